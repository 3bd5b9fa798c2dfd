//! Where signal values live: the [`SignalStore`] trait, and [`LocalStore`], the in-Host store
//! a Host without a databroker uses (and that a databroker serves from).

use crate::catalog::Catalog;
use crate::value::Value;
use crate::VssError;
use parking_lot::{Mutex, RwLock};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

/// Called after a watched signal changes; the same type as a Host API's waker, so that a
/// module's trigger can be handed to a store directly.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// A signal's current value.
#[derive(Debug, Clone, PartialEq)]
pub struct Datapoint {
    /// The value.
    pub value: Value,
    /// When it was set, Unix time in ns.
    pub unix_ns: i64,
    /// How many times the signal has been set (1 for the first value).
    pub version: u64,
}

/// Signal values, as a module's `sl:vss` calls see them.
pub trait SignalStore: Send + Sync {
    /// The signals it holds.
    fn catalog(&self) -> &Catalog;
    /// The current value of signal `id` (`None`: never set).
    fn get(&self, id: u32) -> Result<Option<Datapoint>, VssError>;
    /// Set signal `id` to `v` after the catalog's checks; a refused write changes nothing.
    fn set(&self, id: u32, v: Value) -> Result<(), VssError>;
    /// Call `wake` after every change of signal `id`, for as long as the [`Watch`] lives. It
    /// runs on the writer's thread (a local store) or on the store's own I/O thread (a remote
    /// one): keep it short, and read the value elsewhere, not from inside `wake`.
    fn watch(&self, id: u32, wake: Waker) -> Result<Watch, VssError>;
}

/// Counters of a store.
#[derive(Debug, Default)]
pub struct StoreCounters {
    /// Reads served.
    pub gets: AtomicU64,
    /// Writes applied.
    pub sets: AtomicU64,
    /// Writes refused (type, range, allowed values, unknown signal).
    pub refused: AtomicU64,
}

impl StoreCounters {
    /// The counters as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "gets": self.gets.load(Ordering::Relaxed),
            "sets": self.sets.load(Ordering::Relaxed),
            "refused": self.refused.load(Ordering::Relaxed),
        })
    }
}

type Watchers = Mutex<Vec<(u64, u32, Waker)>>;

/// Keeps a subscription alive; dropping it ends it.
pub struct Watch {
    watchers: Weak<Watchers>,
    key: u64,
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(w) = self.watchers.upgrade() {
            w.lock().retain(|(k, _, _)| *k != self.key);
        }
    }
}

/// Signal values in this process.
pub struct LocalStore {
    catalog: Catalog,
    values: RwLock<Vec<Option<Datapoint>>>,
    watchers: Arc<Watchers>,
    next_key: AtomicU64,
    /// Its counters.
    pub counters: StoreCounters,
}

impl LocalStore {
    /// An empty store of `catalog`'s signals.
    pub fn new(catalog: Catalog) -> Arc<LocalStore> {
        let n = catalog.signals().len();
        Arc::new(LocalStore { catalog, values: RwLock::new(vec![None; n]), watchers: Arc::default(), next_key: AtomicU64::new(0), counters: StoreCounters::default() })
    }

    fn signal(&self, id: u32) -> Result<&crate::Signal, VssError> {
        self.catalog.by_id(id).ok_or(VssError::UnknownId(id))
    }
}

impl SignalStore for LocalStore {
    fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    fn get(&self, id: u32) -> Result<Option<Datapoint>, VssError> {
        self.signal(id)?;
        self.counters.gets.fetch_add(1, Ordering::Relaxed);
        Ok(self.values.read()[id as usize].clone())
    }

    fn set(&self, id: u32, v: Value) -> Result<(), VssError> {
        let checked = self.signal(id).and_then(|s| s.check(&v));
        if let Err(e) = checked {
            self.counters.refused.fetch_add(1, Ordering::Relaxed);
            return Err(e);
        }
        {
            let mut values = self.values.write();
            let slot = &mut values[id as usize];
            let version = slot.as_ref().map_or(1, |d| d.version + 1);
            *slot = Some(Datapoint { value: v, unix_ns: unix_now_ns(), version });
        }
        self.counters.sets.fetch_add(1, Ordering::Relaxed);
        // Wake outside the value lock: a woken module may read at once.
        let wakers: Vec<Waker> = self.watchers.lock().iter().filter(|(_, s, _)| *s == id).map(|(_, _, w)| w.clone()).collect();
        for wake in wakers {
            wake();
        }
        Ok(())
    }

    fn watch(&self, id: u32, wake: Waker) -> Result<Watch, VssError> {
        self.signal(id)?;
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        self.watchers.lock().push((key, id, wake));
        Ok(Watch { watchers: Arc::downgrade(&self.watchers), key })
    }
}

/// Unix time in ns.
pub fn unix_now_ns() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn store() -> Arc<LocalStore> {
        let tree = r#"{"Vehicle": {"type": "branch", "children": {
            "A": {"type": "actuator", "datatype": "int8", "min": 0, "max": 100},
            "B": {"type": "sensor", "datatype": "float"}}}}"#;
        LocalStore::new(Catalog::from_json(tree).unwrap())
    }

    #[test]
    fn a_refused_write_changes_nothing_and_is_counted() {
        let s = store();
        s.set(0, Value::Int(40)).unwrap();
        assert!(s.set(0, Value::Int(101)).is_err());
        assert!(s.set(0, Value::Float(3.0)).is_err());
        let d = s.get(0).unwrap().unwrap();
        assert_eq!((d.value, d.version), (Value::Int(40), 1));
        assert_eq!(s.counters.refused.load(Ordering::Relaxed), 2);
        assert_eq!(s.get(1).unwrap(), None);
        assert!(matches!(s.get(7), Err(VssError::UnknownId(7))));
    }

    #[test]
    fn watchers_are_woken_by_their_signal_until_dropped() {
        let s = store();
        let woken = Arc::new(AtomicUsize::new(0));
        let w = woken.clone();
        let watch = s.watch(1, Arc::new(move || { w.fetch_add(1, Ordering::SeqCst); })).unwrap();
        s.set(1, Value::Float(1.5)).unwrap();
        s.set(0, Value::Int(1)).unwrap();
        assert_eq!(woken.load(Ordering::SeqCst), 1);
        drop(watch);
        s.set(1, Value::Float(2.5)).unwrap();
        assert_eq!(woken.load(Ordering::SeqCst), 1);
    }
}
