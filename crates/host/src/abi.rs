//! The native channel ABI: host functions in import module `sl` (see docs/channel-abi.md).
//!
//! Everything here is per-module state reached through the Store's data ([`ModuleCtx`]); nothing
//! here knows where a channel's messages go (that is the Router's business).

use crate::output::{LineWriter, Stream};
use silverline_channels::{InputQueue, OutputPort, PublishOutcome};
use std::sync::Arc;
use wasmtime::{Caller, Linker, Memory, StoreLimits};
use wasmtime_wasi::p1::WasiP1Ctx;

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

/// Per-module host state: the data of the module's `Store`.
pub(crate) struct ModuleCtx {
    pub(crate) wasi: WasiP1Ctx,
    pub(crate) limits: StoreLimits,
    pub(crate) memory: Option<Memory>,
    pub(crate) channels: ChannelTable,
    pub(crate) activation: i64,
    pub(crate) log: LineWriter,
    pub(crate) refabi: Option<crate::refabi::RefState>,
    pub(crate) sidecar: crate::sidecar::SidecarCtx,
}

/// Add the `sl` functions to a linker.
pub(crate) fn add_to_linker(linker: &mut Linker<ModuleCtx>) -> anyhow::Result<()> {
    linker.func_wrap("sl", "channel_open", channel_open)?;
    linker.func_wrap("sl", "channel_publish", channel_publish)?;
    linker.func_wrap("sl", "channel_receive", channel_receive)?;
    linker.func_wrap("sl", "channel_pending", |c: Caller<'_, ModuleCtx>, h: i32| {
        c.data().channels.input(h).map_or(SL_EBADF, |q| q.len().min(i32::MAX as usize) as i32)
    })?;
    linker.func_wrap("sl", "channel_close", |mut c: Caller<'_, ModuleCtx>, h: i32| c.data_mut().channels.close(h))?;
    linker.func_wrap("sl", "activation", |c: Caller<'_, ModuleCtx>| c.data().activation)?;
    linker.func_wrap("sl", "log", log)?;
    Ok(())
}

/// Guest memory as a byte range, or None when out of bounds.
pub(crate) fn range(ptr: i32, len: i32, mem_len: usize) -> Option<std::ops::Range<usize>> {
    let start = u32::try_from(ptr).ok()? as usize;
    let end = start.checked_add(u32::try_from(len).ok()? as usize)?;
    (end <= mem_len).then_some(start..end)
}

fn channel_open(mut c: Caller<'_, ModuleCtx>, ptr: i32, len: i32, dir: i32) -> i32 {
    let Some(mem) = c.data().memory else { return SL_EINVAL };
    let (data, ctx) = mem.data_and_store_mut(&mut c);
    let Some(r) = range(ptr, len, data.len()) else { return SL_EINVAL };
    match std::str::from_utf8(&data[r]) {
        Ok(name) => ctx.channels.open(name, dir),
        Err(_) => SL_EINVAL,
    }
}

fn channel_publish(mut c: Caller<'_, ModuleCtx>, h: i32, ptr: i32, len: i32) -> i32 {
    let Some(mem) = c.data().memory else { return SL_EINVAL };
    let (data, ctx) = mem.data_and_store_mut(&mut c);
    let Some(port) = ctx.channels.output(h) else { return SL_EBADF };
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

fn channel_receive(mut c: Caller<'_, ModuleCtx>, h: i32, ptr: i32, cap: i32) -> i32 {
    let Some(mem) = c.data().memory else { return SL_EINVAL };
    let (data, ctx) = mem.data_and_store_mut(&mut c);
    let Some(queue) = ctx.channels.input(h) else { return SL_EBADF };
    let Some(r) = range(ptr, cap, data.len()) else { return SL_EINVAL };
    let Some(msg) = queue.pop() else { return SL_EMPTY };
    let n = msg.len().min(r.len());
    data[r.start..r.start + n].copy_from_slice(&msg[..n]);
    msg.len().min(i32::MAX as usize) as i32
}

fn log(mut c: Caller<'_, ModuleCtx>, ptr: i32, len: i32) {
    let Some(mem) = c.data().memory else { return };
    let (data, ctx) = mem.data_and_store_mut(&mut c);
    if let Some(r) = range(ptr, len, data.len()) {
        let mut line = data[r].to_vec();
        line.push(b'\n');
        ctx.log.feed_raw(&line, Stream::Log);
    }
}
