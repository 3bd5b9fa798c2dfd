//! Compatibility with the guest ABI of Silverline's public reference runtime (import module
//! `env`): `ch_open` by path, `ch_read_msg`/`ch_write_msg`, a blocking `ch_poll`, uuids, and the
//! `period_*` calls. Such modules are WASI commands whose `main` loops forever; the Host runs them
//! on a thread of their own so a blocking `ch_poll` never holds up other modules.
//!
//! Paths are MQTT topics (readers may use `+`/`#`). When the module's manifest declares a channel
//! whose *name* equals the path, the manifest's endpoint is used instead: reference modules can be
//! relinked by manifest like native ones. See docs/channel-abi.md for the full mapping.

use silverline_hostapi::{ApiView, HostApi};
use crate::module::{PeriodicClock, Profile, Sample};
use parking_lot::{Condvar, Mutex};
use silverline_channels::{InputQueue, OutputPort, Router};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::{Caller, Linker};

/// Wakes a module blocked in `ch_poll` or `period_start`.
#[derive(Default)]
pub(crate) struct Notify {
    generation: Mutex<u64>,
    cond: Condvar,
}

impl Notify {
    pub(crate) fn notify(&self) {
        *self.generation.lock() += 1;
        self.cond.notify_all();
    }

    /// Wait for a notification after `seen`, until `deadline` (None: forever).
    fn wait(&self, seen: u64, deadline: Option<Instant>) {
        let mut g = self.generation.lock();
        while *g == seen {
            match deadline {
                Some(d) => {
                    if self.cond.wait_until(&mut g, d).timed_out() {
                        return;
                    }
                }
                None => self.cond.wait(&mut g),
            }
        }
    }

    fn seen(&self) -> u64 {
        *self.generation.lock()
    }
}

struct Fd {
    path: String,
    reader: Option<Reader>,
    writer: Option<Arc<OutputPort>>,
}

struct Reader {
    filter: String,
    queue: Arc<InputQueue>,
    /// Subscribed by us (not a manifest channel): unsubscribe on close.
    dynamic: bool,
}

/// Per-module state of the reference ABI.
pub(crate) struct RefState {
    pub(crate) router: Arc<Router>,
    pub(crate) notify: Arc<Notify>,
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) host_uuid: String,
    pub(crate) module_uuid: String,
    pub(crate) clock: Option<PeriodicClock>,
    pub(crate) profile: Arc<Profile>,
    pub(crate) host_epoch: Instant,
    /// Manifest channels: name → (endpoint, queue or port).
    pub(crate) declared_inputs: Vec<(String, String, Arc<InputQueue>)>,
    pub(crate) declared_outputs: Vec<(String, Arc<OutputPort>)>,
    /// What ports opened on undeclared topics are made like: one of the module's own.
    template: Arc<OutputPort>,
    fds: Vec<Option<Fd>>,
    next_k: Option<i64>,
    period: Option<(i64, Instant, Instant)>,
}

impl RefState {
    #[allow(clippy::too_many_arguments)] // one constructor, called once per instance
    pub(crate) fn new(
        router: Arc<Router>,
        notify: Arc<Notify>,
        stop: Arc<AtomicBool>,
        host_uuid: String,
        module_uuid: String,
        profile: Arc<Profile>,
        host_epoch: Instant,
        declared_inputs: Vec<(String, String, Arc<InputQueue>)>,
        declared_outputs: Vec<(String, Arc<OutputPort>)>,
        template: Arc<OutputPort>,
    ) -> Self {
        RefState {
            router,
            notify,
            stop,
            host_uuid,
            module_uuid,
            clock: None,
            profile,
            host_epoch,
            declared_inputs,
            declared_outputs,
            template,
            fds: Vec::new(),
            next_k: None,
            period: None,
        }
    }

    fn open(&mut self, path: &str, flags: i32) -> i32 {
        let (read, write) = match flags {
            0 => (true, false),
            1 => (false, true),
            2 => (true, true),
            _ => return -1,
        };
        if let Some(fd) = self.fds.iter().position(|f| f.as_ref().is_some_and(|f| f.path == path)) {
            return self.widen(fd, read, write);
        }
        let fd = Fd { path: path.to_string(), reader: None, writer: None };
        let slot = match self.fds.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                self.fds.push(None);
                self.fds.len() - 1
            }
        };
        self.fds[slot] = Some(fd);
        let rc = self.widen(slot, read, write);
        if rc < 0 {
            self.fds[slot] = None;
        }
        rc
    }

    /// Add reading and/or writing to an open fd ("opening the same path twice returns the same fd").
    fn widen(&mut self, fd: usize, read: bool, write: bool) -> i32 {
        let path = self.fds[fd].as_ref().map(|f| f.path.clone()).unwrap_or_default();
        if read && self.fds[fd].as_ref().is_some_and(|f| f.reader.is_none()) {
            let Some(reader) = self.reader_for(&path) else { return -1 };
            if let Some(f) = self.fds[fd].as_mut() {
                f.reader = Some(reader);
            }
        }
        if write && self.fds[fd].as_ref().is_some_and(|f| f.writer.is_none()) {
            let Some(writer) = self.writer_for(&path) else { return -1 };
            if let Some(f) = self.fds[fd].as_mut() {
                f.writer = Some(writer);
            }
        }
        fd as i32
    }

    fn reader_for(&self, path: &str) -> Option<Reader> {
        if let Some((_, filter, queue)) = self.declared_inputs.iter().find(|(name, _, _)| name == path) {
            return Some(Reader { filter: filter.clone(), queue: queue.clone(), dynamic: false });
        }
        silverline_channels::validate_filter(path).ok()?;
        let queue = Arc::new(InputQueue::new(silverline_manifest::DEFAULT_QUEUE_DEPTH));
        let notify = self.notify.clone();
        queue.add_waker(move || notify.notify());
        self.router.subscribe(path, queue.clone());
        Some(Reader { filter: path.to_string(), queue, dynamic: true })
    }

    fn writer_for(&self, path: &str) -> Option<Arc<OutputPort>> {
        if let Some((_, port)) = self.declared_outputs.iter().find(|(name, _)| name == path) {
            return Some(port.clone());
        }
        silverline_channels::validate_topic(path).ok()?;
        Some(self.template.sibling(path))
    }

    fn close(&mut self, fd: i32) -> i32 {
        let Some(slot) = usize::try_from(fd).ok().and_then(|i| self.fds.get_mut(i)) else { return -1 };
        match slot.take() {
            Some(f) => {
                self.release(f);
                0
            }
            None => -1,
        }
    }

    fn release(&self, f: Fd) {
        if let Some(r) = f.reader.filter(|r| r.dynamic) {
            self.router.unsubscribe(&r.filter, &r.queue);
        }
        if let Some(w) = f.writer {
            if !self.declared_outputs.iter().any(|(_, p)| Arc::ptr_eq(p, &w)) {
                w.set_active(false);
            }
        }
    }

    fn fd(&self, fd: i32) -> Option<&Fd> {
        usize::try_from(fd).ok().and_then(|i| self.fds.get(i)).and_then(Option::as_ref)
    }

    fn ready(&self, fds: &[i32]) -> i32 {
        fds.iter()
            .filter(|fd| self.fd(**fd).and_then(|f| f.reader.as_ref()).is_some_and(|r| !r.queue.is_empty()))
            .count() as i32
    }
}

impl Drop for RefState {
    fn drop(&mut self) {
        for f in std::mem::take(&mut self.fds).into_iter().flatten() {
            self.release(f);
        }
    }
}

/// The `period_start` → `period_end` pair measures one activation of a reference module.
fn period_start<T: RefView>(mut c: Caller<'_, T>) -> wasmtime::Result<()> {
    let state = refstate(&mut c)?;
    let scheduled = match state.clock {
        Some(clock) => {
            let k = state.next_k.unwrap_or_else(|| clock.first());
            let at = clock.at(k);
            wait_until(state, at)?;
            // Skip periods already past (an overrun): indices are never reused.
            let now = Instant::now();
            let late = now.saturating_duration_since(at).as_nanos() / clock.period.as_nanos().max(1);
            state.next_k = Some(k + 1 + late as i64);
            (k, at)
        }
        None => (state.next_k.unwrap_or(0), Instant::now()),
    };
    if state.clock.is_none() {
        state.next_k = Some(scheduled.0 + 1);
    }
    state.period = Some((scheduled.0, scheduled.1, Instant::now()));
    Ok(())
}

fn period_end<T: RefView>(mut c: Caller<'_, T>) -> wasmtime::Result<()> {
    let state = refstate(&mut c)?;
    if let Some((k, at, started)) = state.period.take() {
        let sample = Sample { k, scheduled: state.clock.map(|_| at), started, exec: started.elapsed(), fuel: 0, memory: 0 };
        state.profile.record(&sample, None, state.host_epoch);
    }
    Ok(())
}

/// Sleep until `at`, waking early only to stop.
fn wait_until(state: &RefState, at: Instant) -> wasmtime::Result<()> {
    while Instant::now() < at {
        if state.stop.load(Ordering::Acquire) {
            return Err(wasmtime::Error::msg("module stopped"));
        }
        let seen = state.notify.seen();
        state.notify.wait(seen, Some(at));
    }
    Ok(())
}

fn refstate<'a, T: RefView>(c: &'a mut Caller<'_, T>) -> wasmtime::Result<&'a mut RefState> {
    c.data_mut().refabi().ok_or_else(|| wasmtime::Error::msg("reference ABI unavailable"))
}

fn c_string(data: &[u8], ptr: i32) -> Option<&str> {
    let start = u32::try_from(ptr).ok()? as usize;
    let tail = data.get(start..)?;
    let len = tail.iter().position(|b| *b == 0)?;
    std::str::from_utf8(&tail[..len]).ok()
}

fn ch_poll<T: RefView>(mut c: Caller<'_, T>, fds_ptr: i32, n: i32, timeout_ms: i32) -> wasmtime::Result<i32> {
    let Some(mem) = c.data().memory() else { return Ok(-1) };
    let fds: Vec<i32> = {
        let data = mem.data(&c);
        let Some(bytes) = u32::try_from(fds_ptr).ok().and_then(|p| {
            let len = usize::try_from(n).ok()?.checked_mul(4)?;
            data.get(p as usize..(p as usize).checked_add(len)?)
        }) else {
            return Ok(-1);
        };
        bytes.chunks_exact(4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
    };
    let state = refstate(&mut c)?;
    // timeout 0 waits forever (reference semantics); a negative timeout only polls.
    let deadline = (timeout_ms > 0).then(|| Instant::now() + Duration::from_millis(timeout_ms as u64));
    loop {
        let seen = state.notify.seen();
        let ready = state.ready(&fds);
        if ready > 0 || timeout_ms < 0 {
            return Ok(ready);
        }
        if state.stop.load(Ordering::Acquire) {
            return Err(wasmtime::Error::msg("module stopped"));
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(0);
        }
        state.notify.wait(seen, deadline);
    }
}

/// Store data that carries the reference-ABI state (`None`: this module has none).
pub(crate) trait RefView: ApiView {
    fn refabi(&mut self) -> Option<&mut RefState>;
}

/// `env:reference-runtime`: the reference runtime's functions (import module `env`).
pub(crate) struct ReferenceRuntime;

impl<T: RefView> HostApi<T> for ReferenceRuntime {
    fn name(&self) -> &str {
        "env:reference-runtime"
    }
    fn imports(&self) -> &[&str] {
        &["env"]
    }
    fn add_to_linker(&self, linker: &mut Linker<T>) -> anyhow::Result<()> {
        add_to_linker(linker)
    }
}

fn add_to_linker<T: RefView>(linker: &mut Linker<T>) -> anyhow::Result<()> {
    linker.func_wrap("env", "ch_open", |mut c: Caller<'_, T>, path: i32, flags: i32, _mode: i32| -> wasmtime::Result<i32> {
        let Some(mem) = c.data().memory() else { return Ok(-1) };
        let (data, ctx) = mem.data_and_store_mut(&mut c);
        let Some(state) = ctx.refabi() else { return Ok(-1) };
        Ok(c_string(data, path).map_or(-1, |p| state.open(p, flags)))
    })?;
    linker.func_wrap("env", "ch_close", |mut c: Caller<'_, T>, fd: i32| -> wasmtime::Result<i32> {
        Ok(refstate(&mut c)?.close(fd))
    })?;
    linker.func_wrap("env", "ch_write_msg", |mut c: Caller<'_, T>, fd: i32, buf: i32, len: i32| -> wasmtime::Result<i32> {
        let Some(mem) = c.data().memory() else { return Ok(-1) };
        let (data, ctx) = mem.data_and_store_mut(&mut c);
        let Some(port) = ctx.refabi().and_then(|s| s.fd(fd)).and_then(|f| f.writer.clone()) else { return Ok(-1) };
        let Some(bytes) = slice(data, buf, len) else { return Ok(-1) };
        // The reference ABI knows one error: -1 (also when the broker queue is full).
        Ok(match port.publish(bytes) {
            silverline_channels::PublishOutcome::NotQueued | silverline_channels::PublishOutcome::RateLimited => -1,
            _ => len,
        })
    })?;
    linker.func_wrap("env", "ch_read_msg", |mut c: Caller<'_, T>, fd: i32, buf: i32, len: i32| -> wasmtime::Result<i32> {
        let Some(mem) = c.data().memory() else { return Ok(-1) };
        let (data, ctx) = mem.data_and_store_mut(&mut c);
        let Some(queue) = ctx.refabi().and_then(|s| s.fd(fd)).and_then(|f| f.reader.as_ref()).map(|r| r.queue.clone()) else {
            return Ok(-1);
        };
        let Some(out) = slice_mut(data, buf, len) else { return Ok(-1) };
        let Some(msg) = queue.pop() else { return Ok(0) };
        let n = msg.len().min(out.len());
        out[..n].copy_from_slice(&msg[..n]);
        Ok(n as i32)
    })?;
    linker.func_wrap("env", "ch_poll", ch_poll::<T>)?;
    linker.func_wrap("env", "runtime_get_uuid", |mut c: Caller<'_, T>, buf: i32| -> wasmtime::Result<i32> {
        let uuid = refstate(&mut c)?.host_uuid.clone();
        Ok(status_of(write_c_string(&mut c, buf, &uuid)))
    })?;
    linker.func_wrap("env", "module_get_uuid", |mut c: Caller<'_, T>, buf: i32| -> wasmtime::Result<i32> {
        let uuid = refstate(&mut c)?.module_uuid.clone();
        Ok(status_of(write_c_string(&mut c, buf, &uuid)))
    })?;
    linker.func_wrap("env", "period_start", period_start::<T>)?;
    linker.func_wrap("env", "period_end", period_end::<T>)?;
    linker.func_wrap("env", "period_yield", |mut c: Caller<'_, T>| -> wasmtime::Result<()> {
        if refstate(&mut c)?.stop.load(Ordering::Acquire) {
            return Err(wasmtime::Error::msg("module stopped"));
        }
        std::thread::yield_now();
        Ok(())
    })?;
    linker.func_wrap("env", "period_set_flags", |_c: Caller<'_, T>, _flags: i32| {})?;
    Ok(())
}

fn slice(data: &[u8], ptr: i32, len: i32) -> Option<&[u8]> {
    let start = u32::try_from(ptr).ok()? as usize;
    data.get(start..start.checked_add(u32::try_from(len).ok()? as usize)?)
}

fn slice_mut(data: &mut [u8], ptr: i32, len: i32) -> Option<&mut [u8]> {
    let start = u32::try_from(ptr).ok()? as usize;
    data.get_mut(start..start.checked_add(u32::try_from(len).ok()? as usize)?)
}

/// Write `s` and a NUL at `buf`; `false` when the module has no memory or the bytes do not fit.
fn write_c_string<T: RefView>(c: &mut Caller<'_, T>, buf: i32, s: &str) -> bool {
    let Some(mem) = c.data().memory() else { return false };
    let mut bytes = s.as_bytes().to_vec();
    bytes.push(0);
    let Some(out) = slice_mut(mem.data_mut(c), buf, bytes.len() as i32) else { return false };
    out.copy_from_slice(&bytes);
    true
}

/// The published header's convention: 0 on success, -1 on failure.
fn status_of(ok: bool) -> i32 {
    if ok { 0 } else { -1 }
}

/// Whether `module` declares the uuid calls as returning nothing, the form of the reference
/// runtime's early headers (the published header returns `int`).
fn wants_void_uuids(module: &wasmtime::Module) -> bool {
    module.imports().any(|i| {
        i.module() == "env"
            && matches!(i.name(), "runtime_get_uuid" | "module_get_uuid")
            && i.ty().func().is_some_and(|f| f.results().len() == 0)
    })
}

/// Link `module` with `linker`, or with its void-uuid copy when the module asks for that form.
pub(crate) fn instantiate_pre<T: RefView>(linker: &Linker<T>, module: &wasmtime::Module) -> anyhow::Result<wasmtime::InstancePre<T>> {
    let pre = if wants_void_uuids(module) { with_void_uuids(linker)?.instantiate_pre(module) } else { linker.instantiate_pre(module) };
    pre.map_err(anyhow::Error::from)
}

/// A copy of `linker` whose uuid calls return nothing, for modules built against the early
/// headers. Only such modules pay for the copy.
fn with_void_uuids<T: RefView>(linker: &Linker<T>) -> anyhow::Result<Linker<T>> {
    let mut l = linker.clone();
    l.allow_shadowing(true);
    l.func_wrap("env", "runtime_get_uuid", |mut c: Caller<'_, T>, buf: i32| -> wasmtime::Result<()> {
        let uuid = refstate(&mut c)?.host_uuid.clone();
        write_c_string(&mut c, buf, &uuid);
        Ok(())
    })?;
    l.func_wrap("env", "module_get_uuid", |mut c: Caller<'_, T>, buf: i32| -> wasmtime::Result<()> {
        let uuid = refstate(&mut c)?.module_uuid.clone();
        write_c_string(&mut c, buf, &uuid);
        Ok(())
    })?;
    Ok(l)
}
