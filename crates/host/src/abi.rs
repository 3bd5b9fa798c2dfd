//! The native channel ABI: host functions in import module `sl` (see docs/channel-abi.md).
//!
//! The API owns its per-module state ([`ChannelCtx`]) and reaches it through [`ChannelView`],
//! which the store data implements; nothing here knows where a channel's messages go (that is
//! the Router's business).

use crate::output::{LineWriter, Stream};
use crate::sidecar::SidecarView;
use silverline_channels::{InputQueue, OutputPort, PublishOutcome};
use silverline_hostapi::{range, ApiView, HostApi};
use std::sync::Arc;
use wasmtime::{Caller, Linker};

/// `channel_open` direction: an input channel.
pub const DIR_IN: i32 = 0;
/// `channel_open` direction: an output channel.
pub const DIR_OUT: i32 = 1;
/// No channel of that name and direction in the manifest.
pub const SL_ENOENT: i32 = -1;
/// Bad pointer or length, or a name that is not UTF-8.
pub const SL_EINVAL: i32 = -2;
/// Bad handle, or a handle of the wrong direction.
pub const SL_EBADF: i32 = -3;
/// Message larger than [`MAX_MESSAGE`].
pub const SL_E2BIG: i32 = -4;
/// Nothing waiting on the input channel.
pub const SL_EMPTY: i32 = -5;
/// `channel_publish`: the message could not be queued for the broker (the Host's outgoing queue
/// is full, e.g. while the broker is unreachable); nothing was sent beyond this Host. Retry later
/// or drop it: the Host counted it.
pub const SL_EAGAIN: i32 = -6;
/// `channel_publish`: the module is over its publish budget (`maxPublishPerSecond`,
/// `maxPublishBytesPerSecond`); nothing was delivered, the Host counted it.
pub const SL_ERATE: i32 = -7;
/// `channel_publish`: the output channel is inactive, the message was dropped (not an error).
pub const SL_DROPPED_INACTIVE: i32 = 1;
/// Largest message a module may publish.
pub const MAX_MESSAGE: usize = 1 << 20;

/// The channels one module may use, as named in its manifest, and its open handles.
#[derive(Default)]
pub(crate) struct ChannelTable {
    pub(crate) inputs: Vec<(String, Arc<InputQueue>)>,
    pub(crate) outputs: Vec<(String, Arc<OutputPort>)>,
    handles: Vec<Option<Handle>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Handle {
    In(usize),
    Out(usize),
}

impl ChannelTable {
    pub(crate) fn new(inputs: Vec<(String, Arc<InputQueue>)>, outputs: Vec<(String, Arc<OutputPort>)>) -> Self {
        ChannelTable { inputs, outputs, handles: Vec::new() }
    }

    fn open(&mut self, name: &str, dir: i32) -> i32 {
        let wanted = match dir {
            DIR_IN => self.inputs.iter().position(|(n, _)| n == name).map(Handle::In),
            DIR_OUT => self.outputs.iter().position(|(n, _)| n == name).map(Handle::Out),
            _ => return SL_EINVAL,
        };
        let Some(wanted) = wanted else { return SL_ENOENT };
        if let Some(h) = self.handles.iter().position(|h| *h == Some(wanted)) {
            return h as i32;
        }
        match self.handles.iter().position(Option::is_none) {
            Some(free) => {
                self.handles[free] = Some(wanted);
                free as i32
            }
            None => {
                self.handles.push(Some(wanted));
                self.handles.len() as i32 - 1
            }
        }
    }

    fn get(&self, h: i32) -> Option<Handle> {
        usize::try_from(h).ok().and_then(|h| self.handles.get(h).copied().flatten())
    }

    fn input(&self, h: i32) -> Option<&Arc<InputQueue>> {
        match self.get(h)? {
            Handle::In(i) => Some(&self.inputs[i].1),
            Handle::Out(_) => None,
        }
    }

    fn output(&self, h: i32) -> Option<&Arc<OutputPort>> {
        match self.get(h)? {
            Handle::Out(i) => Some(&self.outputs[i].1),
            Handle::In(_) => None,
        }
    }

    fn close(&mut self, h: i32) -> i32 {
        match usize::try_from(h).ok().and_then(|h| self.handles.get_mut(h)) {
            Some(slot @ Some(_)) => {
                *slot = None;
                0
            }
            _ => SL_EBADF,
        }
    }
}

/// One module's channel state: its channels, which activation runs, where its log goes.
pub(crate) struct ChannelCtx {
    pub(crate) table: ChannelTable,
    pub(crate) activation: i64,
    pub(crate) log: LineWriter,
}

/// Store data that carries a [`ChannelCtx`].
pub(crate) trait ChannelView: ApiView {
    fn channels(&mut self) -> &mut ChannelCtx;
}

/// `sl:channels`: import module `sl` (channels, log, activation index, and the clock, wake-up
/// and config functions every module may use; see docs/channel-abi.md).
pub(crate) struct Channels;

impl<T: ChannelView + SidecarView> HostApi<T> for Channels {
    fn name(&self) -> &str {
        "sl:channels"
    }
    fn imports(&self) -> &[&str] {
        &["sl"]
    }
    fn add_to_linker(&self, linker: &mut Linker<T>) -> anyhow::Result<()> {
        linker.func_wrap("sl", "channel_open", channel_open::<T>)?;
        linker.func_wrap("sl", "channel_publish", channel_publish::<T>)?;
        linker.func_wrap("sl", "channel_receive", channel_receive::<T>)?;
        linker.func_wrap("sl", "channel_pending", |mut c: Caller<'_, T>, h: i32| {
            c.data_mut().channels().table.input(h).map_or(SL_EBADF, |q| q.len().min(i32::MAX as usize) as i32)
        })?;
        linker.func_wrap("sl", "channel_close", |mut c: Caller<'_, T>, h: i32| c.data_mut().channels().table.close(h))?;
        linker.func_wrap("sl", "activation", |mut c: Caller<'_, T>| c.data_mut().channels().activation)?;
        linker.func_wrap("sl", "log", log::<T>)?;
        crate::sidecar::add_module_functions(linker)
    }
}

fn channel_open<T: ChannelView>(mut c: Caller<'_, T>, ptr: i32, len: i32, dir: i32) -> i32 {
    let Some(mem) = c.data().memory() else { return SL_EINVAL };
    let (data, ctx) = mem.data_and_store_mut(&mut c);
    let Some(r) = range(ptr, len, data.len()) else { return SL_EINVAL };
    match std::str::from_utf8(&data[r]) {
        Ok(name) => ctx.channels().table.open(name, dir),
        Err(_) => SL_EINVAL,
    }
}

fn channel_publish<T: ChannelView>(mut c: Caller<'_, T>, h: i32, ptr: i32, len: i32) -> i32 {
    let Some(mem) = c.data().memory() else { return SL_EINVAL };
    let (data, ctx) = mem.data_and_store_mut(&mut c);
    let Some(port) = ctx.channels().table.output(h) else { return SL_EBADF };
    if usize::try_from(len).is_ok_and(|l| l > MAX_MESSAGE) {
        return SL_E2BIG;
    }
    let Some(r) = range(ptr, len, data.len()) else { return SL_EINVAL };
    match port.publish(&data[r]) {
        PublishOutcome::Sent => 0,
        PublishOutcome::DroppedInactive | PublishOutcome::Fenced => SL_DROPPED_INACTIVE,
        PublishOutcome::NotQueued => SL_EAGAIN,
        PublishOutcome::RateLimited => SL_ERATE,
    }
}

fn channel_receive<T: ChannelView>(mut c: Caller<'_, T>, h: i32, ptr: i32, cap: i32) -> i32 {
    let Some(mem) = c.data().memory() else { return SL_EINVAL };
    let (data, ctx) = mem.data_and_store_mut(&mut c);
    let Some(queue) = ctx.channels().table.input(h) else { return SL_EBADF };
    let Some(r) = range(ptr, cap, data.len()) else { return SL_EINVAL };
    let Some(msg) = queue.pop() else { return SL_EMPTY };
    let n = msg.len().min(r.len());
    data[r.start..r.start + n].copy_from_slice(&msg[..n]);
    msg.len().min(i32::MAX as usize) as i32
}

fn log<T: ChannelView>(mut c: Caller<'_, T>, ptr: i32, len: i32) {
    let Some(mem) = c.data().memory() else { return };
    let (data, ctx) = mem.data_and_store_mut(&mut c);
    if let Some(r) = range(ptr, len, data.len()) {
        let mut line = data[r].to_vec();
        line.push(b'\n');
        ctx.channels().log.feed_raw(&line, Stream::Log);
    }
}
