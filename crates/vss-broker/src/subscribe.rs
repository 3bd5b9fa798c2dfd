//! Subscriptions, driven by the stores' watches: a change marks its signal dirty and wakes the
//! subscription's task, which sends the latest values of everything dirty. A slow client
//! therefore gets fewer, newer messages instead of an ever-growing queue, and an idle
//! subscription costs nothing.

use crate::server::{Slot, State};
use parking_lot::Mutex;
use silverline_vss::SignalStore;
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::{mpsc, Notify};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

/// A subscribed signal: which of its values, and its catalog id.
pub type Key = (Slot, u32);

#[derive(Default)]
struct Changes {
    dirty: Mutex<BTreeSet<Key>>,
    notify: Notify,
}

impl Changes {
    fn mark(&self, key: Key) {
        self.dirty.lock().insert(key);
        self.notify.notify_one();
    }
}

/// A response stream for `keys`: first their current values, then one message per batch of
/// changes. `render` builds a message from the changed keys. Ends when the client goes away
/// or the broker shuts down.
pub fn stream<M, F>(state: &Arc<State>, keys: Vec<Key>, buffer: usize, render: F) -> Result<ReceiverStream<Result<M, Status>>, Status>
where
    M: Send + 'static,
    F: Fn(&State, &[Key]) -> M + Send + 'static,
{
    let changes = Arc::new(Changes::default());
    let mut watches = Vec::with_capacity(keys.len());
    for &key in &keys {
        let c = changes.clone();
        let watch = state.store(key.0).watch(key.1, Arc::new(move || c.mark(key))).map_err(|e| crate::convert::status(&e))?;
        watches.push(watch);
    }
    // Everything starts dirty: the first message carries every current value, as Kuksa's does.
    for key in keys {
        changes.mark(key);
    }
    let (tx, rx) = mpsc::channel(buffer.max(1));
    let state = state.clone();
    tokio::spawn(async move {
        let _watches = watches;
        state.counters.subscriptions.fetch_add(1, Ordering::Relaxed);
        let mut closing = state.closing.subscribe();
        loop {
            tokio::select! {
                _ = tx.closed() => break,
                _ = closing.wait_for(|&c| c) => break,
                _ = changes.notify.notified() => {}
            }
            let batch: Vec<Key> = std::mem::take(&mut *changes.dirty.lock()).into_iter().collect();
            if !batch.is_empty() && tx.send(Ok(render(&state, &batch))).await.is_err() {
                break;
            }
        }
        state.counters.subscriptions.fetch_sub(1, Ordering::Relaxed);
    });
    Ok(ReceiverStream::new(rx))
}
