//! The guest ABI's host functions (import module `sl`), driven by a fixed module that interprets
//! the fuzz input as calls.
//!
//! The module is deployed once on a real [`Host`]; each input is published to its trigger channel
//! `ctl`, so one activation receives it into memory at [`INPUT`] and runs it as 13-byte operations
//! `[op: u8, a: i32 LE, b: i32 LE, c: i32 LE]`, `op % 7` choosing the call:
//!
//! | op | call |
//! | --- | --- |
//! | 0 | `channel_open(a, b, c)`: names `in` (at 0, 2 bytes), `out` (16, 3), `ctl` (32, 3) |
//! | 1 | `channel_publish(a, b, c)`: `out` publishes to `in`'s topic |
//! | 2 | `channel_receive(a, b, c)` |
//! | 3 | `channel_pending(a)` |
//! | 4 | `channel_close(a)` |
//! | 5 | `activation()` |
//! | 6 | `log(a, b)` |
//!
//! Pointers and lengths are the fuzzer's, so most calls are out of bounds or on bad handles; the
//! interpreter itself cannot trap. Afterwards the module drains `in` and closes every handle, so
//! each input starts alike. A trap is the module's failure and is allowed (the module is deployed
//! again); a host panic aborts the process, and a Host that stops answering is a bug too.

use silverline_host::{Host, HostConfig, ModuleId, ModuleState, Stream};
use silverline_manifest::ApplicationManifest;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Where the module receives the input.
pub const INPUT: i32 = 1024;
/// The longest input the module reads (the rest is cut).
pub const MAX_INPUT: usize = 32768;

const WAT: &str = r#"
(module
  (import "sl" "channel_open" (func $open (param i32 i32 i32) (result i32)))
  (import "sl" "channel_publish" (func $publish (param i32 i32 i32) (result i32)))
  (import "sl" "channel_receive" (func $receive (param i32 i32 i32) (result i32)))
  (import "sl" "channel_pending" (func $pending (param i32) (result i32)))
  (import "sl" "channel_close" (func $close (param i32) (result i32)))
  (import "sl" "activation" (func $activation (result i64)))
  (import "sl" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "in")
  (data (i32.const 16) "out")
  (data (i32.const 32) "ctl")

  (func (export "sl_init") (result i32) (i32.const 0))

  (func $run (param $at i32) (param $end i32)
    (local $a i32) (local $b i32) (local $c i32)
    (block $done
      (loop $next
        (br_if $done (i32.gt_u (i32.add (local.get $at) (i32.const 13)) (local.get $end)))
        (local.set $a (i32.load (i32.add (local.get $at) (i32.const 1))))
        (local.set $b (i32.load (i32.add (local.get $at) (i32.const 5))))
        (local.set $c (i32.load (i32.add (local.get $at) (i32.const 9))))
        (block $op_done
          (block $b6 (block $b5 (block $b4 (block $b3 (block $b2 (block $b1 (block $b0
            (br_table $b0 $b1 $b2 $b3 $b4 $b5 $b6
              (i32.rem_u (i32.load8_u (local.get $at)) (i32.const 7))))
            (drop (call $open (local.get $a) (local.get $b) (local.get $c))) (br $op_done))
            (drop (call $publish (local.get $a) (local.get $b) (local.get $c))) (br $op_done))
            (drop (call $receive (local.get $a) (local.get $b) (local.get $c))) (br $op_done))
            (drop (call $pending (local.get $a))) (br $op_done))
            (drop (call $close (local.get $a))) (br $op_done))
            (drop (call $activation)) (br $op_done))
          (call $log (local.get $a) (local.get $b)))
        (local.set $at (i32.add (local.get $at) (i32.const 13)))
        (br $next))))

  (func (export "sl_step") (result i32)
    (local $n i32) (local $in i32) (local $h i32)
    (local.set $n (call $receive (call $open (i32.const 32) (i32.const 3) (i32.const 0))
                                 (i32.const 1024) (i32.const 32768)))
    (if (i32.ge_s (local.get $n) (i32.const 0))
      (then
        (if (i32.gt_u (local.get $n) (i32.const 32768)) (then (local.set $n (i32.const 32768))))
        (call $run (i32.const 1024) (i32.add (i32.const 1024) (local.get $n)))))
    (local.set $in (call $open (i32.const 0) (i32.const 2) (i32.const 0)))
    (loop $drain
      (br_if $drain (i32.ge_s (call $receive (local.get $in) (i32.const 0) (i32.const 0)) (i32.const 0))))
    (loop $close_all
      (drop (call $close (local.get $h)))
      (local.set $h (i32.add (local.get $h) (i32.const 1)))
      (br_if $close_all (i32.lt_u (local.get $h) (i32.const 16))))
    (i32.const 0)))
"#;

const MANIFEST: &str = r#"
name: fuzz
modules:
  - name: abi
    file: /abi.wat
    trigger: { type: event, channel: ctl }
    inputChannels:
      channels:
        - { name: ctl, endpoint: fuzz/ctl, queueDepth: 1 }
        - { name: in, endpoint: fuzz/in, queueDepth: 4 }
    outputChannels:
      channels:
        - { name: out, endpoint: fuzz/in }
"#;

/// How long one input may take before the Host counts as hung.
const HUNG: Duration = Duration::from_secs(10);

struct Harness {
    host: Host,
    app: ApplicationManifest,
    id: ModuleId,
}

impl Harness {
    fn new() -> Harness {
        let mut config = HostConfig::new();
        config.workers(1).output(Arc::new(|_: &str, _: Stream, _: &str| {}));
        let host = Host::new(config).expect("the Host starts");
        let app = ApplicationManifest::from_str(MANIFEST, Path::new("/")).expect("the fuzz manifest is valid");
        let id = ModuleId::new("fuzz", "abi");
        let harness = Harness { host, app, id };
        harness.deploy();
        harness
    }

    fn deploy(&self) {
        let spec = &self.app.modules[0];
        self.host.deploy(self.id.clone(), "fuzz", spec, WAT.as_bytes()).expect("the fuzz module deploys");
    }

    /// Runs `ops` in one activation of the module.
    fn run(&self, ops: &[u8]) {
        let activations = |h: &Host| h.status().module(self.id.as_str()).map_or(0, |m| m.activations);
        let before = activations(&self.host);
        self.host.router().output_port("fuzz/ctl", true).publish(&ops[..ops.len().min(MAX_INPUT)]);
        let id = self.id.as_str();
        let done = self.host.wait_for(HUNG, |s| {
            s.module(id).is_some_and(|m| m.activations > before || !matches!(m.state, ModuleState::Running | ModuleState::Starting))
        });
        assert!(done, "the Host ran no activation for the input within {HUNG:?}");
        let state = self.host.status().module(id).map(|m| m.state.clone());
        if !matches!(state, Some(ModuleState::Running | ModuleState::Starting)) {
            // A trap stopped the module: allowed, but the next input needs it back.
            self.host.remove(&self.id);
            self.deploy();
        }
    }
}

/// One fuzz input: operations for the module's interpreter.
pub fn abi(ops: &[u8]) {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(Harness::new).run(ops);
}
