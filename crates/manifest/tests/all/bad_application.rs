//! Bad application manifests: each must be rejected with an error at the exact field path and
//! an expectation that says what to write instead.

use crate::{app_err, assert_error};

/// A valid two-module pipeline that the tests below break in one place each.
const BASE: &str = r#"
name: pipeline
modules:
  - name: sensor
    file: sensor.wat
    trigger: { type: periodic, periodInNs: 100000000 }
    outputChannels:
      channels:
        - { name: raw, endpoint: sensors/raw }
  - name: filter
    file: filter.wasm
    trigger: { type: event, channel: raw }
    inputChannels:
      channels:
        - { name: raw, endpoint: "sensors/+" }
"#;

/// BASE with `from` replaced by `to` (which must occur, so a test cannot silently test BASE).
fn with(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "BASE lacks {from:?}");
    BASE.replacen(from, to, 1)
}

#[test]
fn base_is_valid() {
    silverline_manifest::ApplicationManifest::from_str(BASE, std::path::Path::new("/")).unwrap();
}

#[test]
fn unknown_top_level_field() {
    let errs = app_err(&format!("colour: red\n{BASE}"));
    assert_error(&errs, "colour", "`modules`");
    assert_eq!(errs.at("colour").unwrap().found, "unknown field `colour`");
}

#[test]
fn unknown_field_in_second_module() {
    let errs = app_err(&with(
        "    file: filter.wasm\n",
        "    file: filter.wasm\n    foo: 1\n",
    ));
    assert_error(&errs, "modules[1].foo", "`trigger`");
}

#[test]
fn unknown_field_in_channel() {
    let errs = app_err(&with(
        "endpoint: sensors/raw }",
        "endpoint: sensors/raw, size: 3 }",
    ));
    assert_error(
        &errs,
        "modules[0].outputChannels.channels[0].size",
        "`payloadSizeInBytes`",
    );
}

#[test]
fn missing_app_name() {
    let errs = app_err(&with("name: pipeline\n", ""));
    assert_error(&errs, "name", "required field `name`");
}

#[test]
fn missing_channel_endpoint() {
    let errs = app_err(&with(
        "{ name: raw, endpoint: sensors/raw }",
        "{ name: raw }",
    ));
    assert_error(
        &errs,
        "modules[0].outputChannels.channels[0].endpoint",
        "required field",
    );
}

#[test]
fn missing_trigger() {
    let errs = app_err(&with("    trigger: { type: event, channel: raw }\n", ""));
    assert_error(&errs, "modules[1].trigger", "required field `trigger`");
}

#[test]
fn empty_modules() {
    let errs = app_err("name: pipeline\nmodules: []\n");
    assert_error(&errs, "modules", "at least one module");
}

#[test]
fn duplicate_module_name() {
    let errs = app_err(&with("name: filter", "name: sensor"));
    assert_error(&errs, "modules[1].name", "already used at modules[0].name");
}

#[test]
fn bad_name_charset() {
    let errs = app_err(&with("name: pipeline", "name: \"pipe line\""));
    assert_error(&errs, "name", "A-Z, a-z, 0-9");
    let errs = app_err(&with("name: sensor", "name: \"sensör\""));
    assert_error(&errs, "modules[0].name", "1 to 63 characters");
}

#[test]
fn negative_zero_and_tiny_periods() {
    for period in ["-5", "0", "9999"] {
        let errs = app_err(&with(
            "periodInNs: 100000000",
            &format!("periodInNs: {period}"),
        ));
        assert_error(
            &errs,
            "modules[0].trigger.periodInNs",
            "a positive integer number of nanoseconds",
        );
        assert_eq!(
            errs.at("modules[0].trigger.periodInNs").unwrap().found,
            period
        );
    }
    let errs = app_err(&with("periodInNs: 100000000", "periodInNs: -5"));
    assert_eq!(
        errs.to_string(),
        "modules[0].trigger.periodInNs: expected a positive integer number of nanoseconds, \
         at least 10000 (10 µs), found -5"
    );
}

#[test]
fn period_as_string() {
    let errs = app_err(&with("periodInNs: 100000000", "periodInNs: \"100ms\""));
    assert_error(&errs, "modules[0].trigger.periodInNs", "an integer");
    assert!(errs
        .at("modules[0].trigger.periodInNs")
        .unwrap()
        .found
        .contains("100ms"));
}

#[test]
fn period_missing_for_periodic() {
    let errs = app_err(&with(
        "type: periodic, periodInNs: 100000000",
        "type: periodic",
    ));
    assert_error(&errs, "modules[0].trigger.periodInNs", "nanoseconds");
}

#[test]
fn offset_not_below_period() {
    let errs = app_err(&with(
        "periodInNs: 100000000",
        "periodInNs: 100000000, offsetInNs: 100000000",
    ));
    assert_error(
        &errs,
        "modules[0].trigger.offsetInNs",
        "less than the period",
    );
}

#[test]
fn unknown_trigger_type() {
    let errs = app_err(&with("type: periodic", "type: sporadic"));
    assert_error(
        &errs,
        "modules[0].trigger.type",
        "`periodic`, `event`, `command`",
    );
    assert_eq!(
        errs.at("modules[0].trigger.type").unwrap().found,
        "\"sporadic\""
    );
}

#[test]
fn event_trigger_on_a_channel_that_is_not_an_input() {
    let errs = app_err(&with("channel: raw }", "channel: cooked }"));
    assert_error(
        &errs,
        "modules[1].trigger.channel",
        "input channels (`raw`)",
    );
}

#[test]
fn event_trigger_without_channel() {
    let errs = app_err(&with("{ type: event, channel: raw }", "{ type: event }"));
    assert_error(
        &errs,
        "modules[1].trigger.channel",
        "one of this module's input channels",
    );
}

#[test]
fn periodic_trigger_with_channel() {
    let errs = app_err(&with(
        "periodInNs: 100000000 }",
        "periodInNs: 100000000, channel: raw }",
    ));
    assert_error(
        &errs,
        "modules[0].trigger.channel",
        "no `channel` for a periodic trigger",
    );
}

#[test]
fn command_with_period() {
    let errs = app_err(&with(
        "type: periodic, periodInNs",
        "type: command, periodInNs",
    ));
    assert_error(
        &errs,
        "modules[0].trigger.periodInNs",
        "no `periodInNs` for a command trigger",
    );
}

#[test]
fn wildcard_in_output_endpoint() {
    let errs = app_err(&with("endpoint: sensors/raw", "endpoint: sensors/#"));
    assert_error(
        &errs,
        "modules[0].outputChannels.channels[0].endpoint",
        "without `+` or `#`",
    );
}

#[test]
fn hash_not_last_in_input_endpoint() {
    let errs = app_err(&with("\"sensors/+\"", "\"sensors/#/raw\""));
    let path = "modules[1].inputChannels.channels[0].endpoint";
    assert_error(&errs, path, "`#` is a whole level and the last one");
    let errs = app_err(&with("\"sensors/+\"", "\"sensors/ra+\""));
    assert_error(&errs, path, "`+` is a whole level");
}

#[test]
fn empty_endpoint() {
    let errs = app_err(&with("endpoint: sensors/raw", "endpoint: \"\""));
    assert_error(
        &errs,
        "modules[0].outputChannels.channels[0].endpoint",
        "non-empty",
    );
}

#[test]
fn duplicate_channel_name_across_inputs_and_outputs() {
    let errs = app_err(&with(
        "        - { name: raw, endpoint: \"sensors/+\" }\n",
        "        - { name: raw, endpoint: \"sensors/+\" }\n    outputChannels:\n      channels: [ { name: raw, endpoint: out } ]\n",
    ));
    assert_error(
        &errs,
        "modules[1].outputChannels.channels[0].name",
        "already used at modules[1].inputChannels.channels[0].name",
    );
}

#[test]
fn queue_depth_on_output() {
    let errs = app_err(&with(
        "endpoint: sensors/raw }",
        "endpoint: sensors/raw, queueDepth: 4 }",
    ));
    assert_error(
        &errs,
        "modules[0].outputChannels.channels[0].queueDepth",
        "no `queueDepth` on an output",
    );
}

#[test]
fn queue_depth_zero() {
    let errs = app_err(&with(
        "endpoint: \"sensors/+\" }",
        "endpoint: \"sensors/+\", queueDepth: 0 }",
    ));
    assert_error(
        &errs,
        "modules[1].inputChannels.channels[0].queueDepth",
        "from 1 to 65536",
    );
}

#[test]
fn payload_too_large() {
    let errs = app_err(&with(
        "endpoint: sensors/raw }",
        "endpoint: sensors/raw, payloadSizeInBytes: 1048577 }",
    ));
    assert_error(
        &errs,
        "modules[0].outputChannels.channels[0].payloadSizeInBytes",
        "1 MiB",
    );
}

fn with_resources(res: &str) -> String {
    with(
        "    outputChannels:\n",
        &format!("    resources: {res}\n    outputChannels:\n"),
    )
}

#[test]
fn budget_above_deadline() {
    let errs = app_err(&with_resources(
        "{ budgetInNs: 2000000, deadlineInNs: 1000000 }",
    ));
    assert_error(
        &errs,
        "modules[0].resources.budgetInNs",
        "at most the deadline (1000000)",
    );
}

#[test]
fn deadline_above_period() {
    let errs = app_err(&with_resources("{ deadlineInNs: 200000000 }"));
    assert_error(
        &errs,
        "modules[0].resources.deadlineInNs",
        "at most the period (100000000)",
    );
}

#[test]
fn budget_above_period_without_deadline() {
    let errs = app_err(&with_resources("{ budgetInNs: 200000000 }"));
    assert_error(
        &errs,
        "modules[0].resources.budgetInNs",
        "at most the period",
    );
}

#[test]
fn memory_too_small() {
    let errs = app_err(&with_resources("{ memoryBytes: 4096 }"));
    assert_error(&errs, "modules[0].resources.memoryBytes", "65536");
}

#[test]
fn bad_sha256() {
    let errs = app_err(&with(
        "    file: sensor.wat\n",
        "    file: sensor.wat\n    sha256: ABCDEF\n",
    ));
    assert_error(&errs, "modules[0].sha256", "64 lowercase hexadecimal");
}

#[test]
fn bad_file_extension() {
    let errs = app_err(&with("file: sensor.wat", "file: sensor.so"));
    assert_error(&errs, "modules[0].file", "`.wasm` or `.wat`");
}

#[test]
fn anti_affinity_unknown_and_self() {
    let errs = app_err(&with(
        "    file: sensor.wat\n",
        "    file: sensor.wat\n    placement: { antiAffinity: [ghost, sensor, filter] }\n",
    ));
    assert_error(
        &errs,
        "modules[0].placement.antiAffinity[0]",
        "a module of this application",
    );
    assert_error(
        &errs,
        "modules[0].placement.antiAffinity[1]",
        "another module (not this one)",
    );
    assert!(errs.at("modules[0].placement.antiAffinity[2]").is_none());
}

#[test]
fn placement_api_without_colon() {
    let errs = app_err(&with(
        "    file: sensor.wat\n",
        "    file: sensor.wat\n    placement: { apis: [channels] }\n",
    ));
    assert_error(&errs, "modules[0].placement.apis[0]", "`namespace:name`");
}

#[test]
fn replicas_zero() {
    let errs = app_err(&with(
        "    file: sensor.wat\n",
        "    file: sensor.wat\n    replicas: 0\n",
    ));
    assert_error(&errs, "modules[0].replicas", "at least 1");
}

#[test]
fn unknown_criticality_and_restart_policy() {
    let errs = app_err(&with(
        "    file: sensor.wat\n",
        "    file: sensor.wat\n    criticality: urgent\n",
    ));
    assert_error(
        &errs,
        "modules[0].criticality",
        "`realtime` or `best-effort`",
    );
    let errs = app_err(&with(
        "    file: sensor.wat\n",
        "    file: sensor.wat\n    restart: { policy: sometimes }\n",
    ));
    assert_error(&errs, "modules[0].restart.policy", "`on-failure`");
}

#[test]
fn wrong_kind() {
    let errs = app_err(&format!("kind: host\n{BASE}"));
    assert_error(&errs, "kind", "`application`");
}

#[test]
fn json_with_a_wrong_type() {
    let json = r#"{"name": "a", "modules": [
        {"name": "m", "file": "m.wasm", "trigger": {"type": "periodic", "periodInNs": 1000000}},
        {"name": "n", "file": "n.wasm", "trigger": {"type": "periodic", "periodInNs": "fast"}}
    ]}"#;
    let errs = app_err(json);
    assert_error(&errs, "modules[1].trigger.periodInNs", "an integer");
    assert_eq!(
        errs.at("modules[1].trigger.periodInNs").unwrap().found,
        "string \"fast\""
    );
}

#[test]
fn json_unknown_field_and_syntax_error() {
    let errs = app_err(r#"{"name": "a", "modules": [{"name": "m", "fiel": "m.wasm"}]}"#);
    assert_error(&errs, "modules[0].fiel", "`file`");
    // Syntax errors keep the path where parsing stopped and the position.
    let errs = app_err(r#"{"name": "a", "modules": [}"#);
    assert_error(&errs, "modules[0]", "well-formed JSON");
    assert!(
        errs.at("modules[0]")
            .unwrap()
            .found
            .contains("line 1 column 27"),
        "{errs}"
    );
}

#[test]
fn yaml_syntax_error() {
    let errs = app_err("name: a: b\nmodules: []\n");
    assert_error(&errs, "", "well-formed YAML");
    assert!(errs.at("").unwrap().found.contains("line"), "{errs}");
}

#[test]
fn every_problem_is_reported_in_one_pass() {
    let bad =
        with("name: filter", "name: sensor").replace("periodInNs: 100000000", "periodInNs: 0");
    let errs = app_err(&bad);
    assert_error(&errs, "modules[1].name", "already used");
    assert_error(&errs, "modules[0].trigger.periodInNs", "nanoseconds");
    assert_eq!(errs.to_string().lines().count(), errs.len());
}

#[test]
fn a_bad_period_does_not_cascade_into_limits() {
    let bad = with_resources("{ deadlineInNs: 50000000 }")
        .replace("periodInNs: 100000000", "periodInNs: -5");
    let errs = app_err(&bad);
    assert_eq!(errs.len(), 1, "{errs}");
    assert_error(&errs, "modules[0].trigger.periodInNs", "nanoseconds");
}

#[test]
fn unknown_overrun_policy() {
    let errs = app_err(&with_resources("{ deadlineInNs: 5000000, onOverrun: retry }"));
    assert_error(&errs, "modules[0].resources.onOverrun", "skip-next");
}

#[test]
fn overrun_policy_needs_a_period() {
    let yaml = with_resources("{ onOverrun: degrade }").replace("type: periodic, periodInNs: 100000000", "type: command");
    let errs = app_err(&yaml);
    assert_error(&errs, "modules[0].resources.onOverrun", "periodic trigger");
}
