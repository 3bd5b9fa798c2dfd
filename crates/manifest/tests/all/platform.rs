//! Platform manifests (Fig. 3) and the probe.

use silverline_manifest::PlatformManifest;

use crate::assert_error;

const IPC1: &str = r#"
kind: platform
id: IPC1
cpu: { arch: X86_64, bits: 64, vendor: GenuineIntel, modelName: "Xeon", family: 6, model: 85,
       cores: 4, cpufreqMhz: 2999.9, l1dSizeBytes: 32768, l2SizeBytes: 1048576, l3SizeBytes: 8388608 }
memory: { totalBytes: 25000000000, availableBytes: 20000000000 }
network:
  interfaces:
    - { name: eth0, mac: "aa:bb:cc:dd:ee:ff", mtu: 1500, addresses: ["10.0.0.2/24", "fe80::1/64"], speedMbps: 1000 }
os: { name: linux, kernel: "6.18.0", hostname: ipc1 }
qos: { rt: 1, cfs: 3 }
"#;

fn platform_err(text: &str) -> silverline_manifest::ManifestErrors {
    text.parse::<PlatformManifest>()
        .expect_err("a bad platform manifest was accepted")
}

#[test]
fn full_example_parses_and_round_trips() {
    let p: PlatformManifest = IPC1.parse().unwrap();
    assert_eq!(p.id.as_deref(), Some("IPC1"));
    assert_eq!((p.cpu.arch.as_str(), p.cpu.cores), ("X86_64", 4));
    assert_eq!(p.memory.total_bytes, 25_000_000_000);
    assert_eq!(p.network.interfaces[0].speed_mbps, Some(1000));
    assert_eq!(p.qos["cfs"], 3);
    assert_eq!(p.to_yaml().parse::<PlatformManifest>().unwrap(), p);
    assert_eq!(p.to_json().parse::<PlatformManifest>().unwrap(), p);
}

#[test]
fn minimal_example() {
    let p: PlatformManifest = "cpu: { arch: AARCH64, cores: 1 }\nmemory: { totalBytes: 1 }\n"
        .parse()
        .unwrap();
    assert!(p.network.interfaces.is_empty() && p.os.is_none() && p.id.is_none());
}

#[test]
fn missing_arch() {
    let errs = platform_err(&IPC1.replace("arch: X86_64, ", ""));
    assert_error(&errs, "cpu.arch", "required field `arch`");
}

#[test]
fn negative_cores_and_zero_cores() {
    let errs = platform_err(&IPC1.replace("cores: 4", "cores: -1"));
    assert_error(&errs, "cpu.cores", "a non-negative integer");
    let errs = platform_err(&IPC1.replace("cores: 4", "cores: 0"));
    assert_error(&errs, "cpu.cores", "at least 1");
}

#[test]
fn bad_network_and_memory_values() {
    let errs = platform_err(
        &IPC1
            .replace("aa:bb:cc:dd:ee:ff", "aa:bb")
            .replace("10.0.0.2/24", "10.0.0.2"),
    );
    assert_error(&errs, "network.interfaces[0].mac", "MAC address");
    assert_error(&errs, "network.interfaces[0].addresses[0]", "CIDR");
    let errs =
        platform_err(&IPC1.replace("availableBytes: 20000000000", "availableBytes: 30000000000"));
    assert_error(&errs, "memory.availableBytes", "at most totalBytes");
}

#[test]
fn unknown_cpu_field() {
    let errs = platform_err(&IPC1.replace("bits: 64", "bitz: 64"));
    assert_error(&errs, "cpu.bitz", "`bits`");
}

#[test]
fn probe_validates_and_round_trips() {
    let p = PlatformManifest::probe();
    p.validate()
        .unwrap_or_else(|e| panic!("{e}\n{}", p.to_yaml()));
    assert!(p.cpu.cores >= 1 && !p.cpu.arch.is_empty());
    assert!(p.memory.total_bytes > 0, "this test runs on Linux");
    // YAML floats round-trip exactly; JSON may differ in the last bit of cpufreqMhz.
    assert_eq!(p.to_yaml().parse::<PlatformManifest>().unwrap(), p);
    let from_json: PlatformManifest = p.to_json().parse().unwrap();
    assert_eq!(from_json.memory, p.memory);
    assert_eq!(from_json.network, p.network);
}
