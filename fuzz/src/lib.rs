//! What the fuzz targets check, kept out of `fuzz_targets/` so that each target is one call and a
//! crash can be replayed from a test or a debugger without libFuzzer.
//!
//! Every function here takes bytes from outside — the network, a file, a module — and must not
//! panic on any of them. Where a parser has a writer, the oracle also checks that what it wrote is
//! read back the same: a Host and the Orchestrator re-encode what they decode.

use silverline_manifest::{ApplicationManifest, HostManifest, PlatformManifest, TopologyManifest};
use silverline_proto::status::HostStatus;
use silverline_proto::{decode, encode, Ack, Command, HostEvent, HostState, Hello, Registration, SignedCommand, StatusReport};
use silverline_security::signing::{CommandRefused, CommandSigner, CommandVerifier, Freshness, KeyPair};
use silverline_security::{capabilities, provenance};
use std::fmt::Debug;
use std::path::Path;
use std::sync::OnceLock;

#[cfg(feature = "abi")]
pub mod abi;

/// Manifests of every kind, as `silverline deploy` and a Host's `--manifest` read them.
pub fn manifest(text: &str) {
    let base = Path::new("/");
    if let Ok(app) = ApplicationManifest::from_str(text, base) {
        same(&app, ApplicationManifest::from_str(&app.to_json(), base), "application, JSON");
        same(&app, ApplicationManifest::from_str(&app.to_yaml(), base), "application, YAML");
    }
    if let Ok(host) = text.parse::<HostManifest>() {
        same(&host, host.to_json().parse(), "host, JSON");
        same(&host, host.to_yaml().parse(), "host, YAML");
    }
    if let Ok(topology) = text.parse::<TopologyManifest>() {
        same(&topology, topology.to_json().parse(), "topology, JSON");
        same(&topology, topology.to_yaml().parse(), "topology, YAML");
    }
    if let Ok(platform) = text.parse::<PlatformManifest>() {
        let _ = platform.validate();
        same(&platform, platform.to_json().parse(), "platform, JSON");
        same(&platform, platform.to_yaml().parse(), "platform, YAML");
    }
    let _ = silverline_manifest::parse_any(text, base);
}

/// Control-plane payloads as a Host or the Orchestrator receives them off MQTT, then the checks
/// a Host makes of a command, and the module-bytes parsers at the security boundary.
pub fn control(bytes: &[u8]) {
    round_trip::<Command>(bytes);
    round_trip::<Registration>(bytes);
    round_trip::<HostEvent>(bytes);
    round_trip::<Ack>(bytes);
    round_trip::<HostState>(bytes);
    round_trip::<Hello>(bytes);
    if let Some(report) = round_trip::<StatusReport>(bytes) {
        metrics(&report.status);
    }
    if let Some(cmd) = round_trip::<SignedCommand>(bytes) {
        verify(&cmd);
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = silverline_security::signing::public_key(text);
    }
    module_bytes(bytes);
}

/// Bytes the gate reads from an MQTT client (or from rumqttd): frames, CONNECT, PUBLISH, acks.
pub fn mqtt(bytes: &[u8]) {
    silverline_broker::fuzz_parse_stream(bytes, 1 << 16);
}

/// Decodes `bytes` as a `T`; what decodes must encode, and decode again to the same value.
fn round_trip<T>(bytes: &[u8]) -> Option<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + Debug,
{
    let msg = decode::<T>(bytes).ok()?;
    same(&msg, decode::<T>(&encode(&msg)), std::any::type_name::<T>());
    Some(msg)
}

/// Exact, floats included: the workspace turns on serde_json's `float_roundtrip` (without it a
/// number with many digits moved by an ULP on each re-encoding; found by the `control` target).
fn same<T: PartialEq + Debug, E: std::fmt::Display>(first: &T, again: Result<T, E>, what: &str) {
    match again {
        Ok(again) => assert_eq!(first, &again, "{what}: written and read back, it differs"),
        Err(e) => panic!("{what}: written and read back, it is refused: {e}\n{first:?}"),
    }
}

/// Labels and values from a Host's report end up in the Orchestrator's `/metrics`.
fn metrics(status: &HostStatus) {
    use silverline_proto::prometheus::{write_modules, Labels, Writer};
    let labelled: Vec<(Labels, _)> = status.modules.iter().map(|m| (vec![("host", status.name.clone()), ("id", m.id.0.clone())], m)).collect();
    let mut w = Writer::default();
    write_modules(&mut w, &labelled);
    let _ = w.finish();
}

fn signer() -> &'static CommandSigner {
    static SIGNER: OnceLock<CommandSigner> = OnceLock::new();
    SIGNER.get_or_init(|| CommandSigner::new(KeyPair::generate()))
}

/// A command as received (almost always a bad signature), then the same host and body signed
/// properly: accepted once at the Host's clock, refused when replayed or off the clock.
fn verify(cmd: &SignedCommand) {
    let key = silverline_security::signing::public_key(&signer().public_hex()).expect("our own key parses");
    let now = silverline_security::signing::now_us();
    let mut verifier = CommandVerifier::new(&cmd.host, vec![key], Freshness::default(), None);
    let _ = verifier.verify(cmd, cmd.counter);

    let signed = signer().sign(&cmd.host, cmd.body.clone());
    let off_clock = CommandVerifier::new(&cmd.host, vec![key], Freshness::default(), None).verify(&signed, cmd.counter).err();
    assert!(matches!(off_clock, None | Some(CommandRefused::Skew { .. })), "{off_clock:?}");
    assert_eq!(verifier.verify(&signed, now), Ok(cmd.body.as_str()));
    assert_eq!(verifier.verify(&signed, now), Err(CommandRefused::Replayed(signed.counter)));
}

fn key() -> &'static KeyPair {
    static KEY: OnceLock<KeyPair> = OnceLock::new();
    KEY.get_or_init(KeyPair::generate)
}

/// A module's bytes as a Host reads them before compiling: its signature and its imports.
/// Whatever is well-formed enough to have its signature checked can be signed again, and then
/// its signer is us.
fn module_bytes(wasm: &[u8]) {
    let _ = capabilities::imports(wasm);
    let _ = capabilities::check(wasm, capabilities::Grants::default());
    if !matches!(provenance::signer(wasm), Err(provenance::ProvenanceError::Malformed(_))) {
        let signed = provenance::sign_module(wasm, key()).expect("a module whose signature section was read can be signed");
        assert_eq!(provenance::signer(&signed), Ok(Some(key().public_hex())));
    }
}
