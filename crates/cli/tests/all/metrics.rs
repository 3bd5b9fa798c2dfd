//! `/metrics` of the Orchestrator and of a Host (`--metrics-listen`) parse with a strict
//! Prometheus text-format (0.0.4) parser and carry the figures of a running application.

use crate::common::*;
use crate::orchestrated::{online_hosts, orchestrator};
use std::collections::{BTreeMap, BTreeSet};

/// One metric family: its type, help and samples (sample name, labels, value).
#[derive(Debug, Default)]
pub struct Family {
    pub kind: String,
    pub help: Option<String>,
    pub samples: Vec<(String, BTreeMap<String, String>, f64)>,
}

/// Parse the Prometheus text format strictly: every line a comment, a HELP/TYPE line or a
/// well-formed sample; TYPE before the family's samples and at most once; a family's samples
/// together; no series twice; summaries with `quantile` labels or `_sum`/`_count`; counters
/// named `_total` and never negative. Returns the families by name, or what is wrong, with the line.
pub fn parse(text: &str) -> Result<BTreeMap<String, Family>, String> {
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    let mut finished: BTreeSet<String> = BTreeSet::new();
    let mut current: Option<String> = None;
    let mut series: BTreeSet<String> = BTreeSet::new();
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("the text does not end with a newline".into());
    }
    for (n, line) in text.lines().enumerate() {
        let err = |what: &str| format!("line {}: {what}: {line:?}", n + 1);
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            let mut words = rest.trim_start().splitn(3, ' ');
            match (words.next(), words.next(), words.next()) {
                (Some("HELP"), Some(name), help) => {
                    check_name(name).map_err(|e| err(&e))?;
                    let f = families.entry(name.to_string()).or_default();
                    if f.help.is_some() || !f.samples.is_empty() {
                        return Err(err("HELP repeated or after samples"));
                    }
                    f.help = Some(unescape(help.unwrap_or_default(), false).map_err(|e| err(&e))?);
                }
                (Some("TYPE"), Some(name), Some(kind)) => {
                    check_name(name).map_err(|e| err(&e))?;
                    if !["counter", "gauge", "summary", "histogram", "untyped"].contains(&kind) {
                        return Err(err("unknown type"));
                    }
                    let f = families.entry(name.to_string()).or_default();
                    if !f.kind.is_empty() || !f.samples.is_empty() {
                        return Err(err("TYPE repeated or after samples"));
                    }
                    f.kind = kind.to_string();
                }
                (Some("TYPE"), _, _) => return Err(err("TYPE without a type")),
                _ => {} // a plain comment
            }
            continue;
        }
        let (name, labels, value) = sample(line).map_err(|e| err(&e))?;
        let family = family_of(&families, &name);
        let f = families.get_mut(&family).filter(|f| !f.kind.is_empty()).ok_or_else(|| err("a sample without a TYPE before it"))?;
        if current.as_deref() != Some(family.as_str()) {
            if finished.contains(&family) {
                return Err(err("the family's samples are not together"));
            }
            if let Some(c) = current.replace(family.clone()) {
                finished.insert(c);
            }
        }
        let key = format!("{name}{labels:?}");
        if !series.insert(key) {
            return Err(err("the same series twice"));
        }
        match f.kind.as_str() {
            "counter" => {
                if !name.ends_with("_total") {
                    return Err(err("a counter not named _total"));
                }
                if value < 0.0 || value.is_nan() {
                    return Err(err("a negative counter"));
                }
            }
            "summary" if name == family => {
                let q: f64 = labels.get("quantile").ok_or_else(|| err("a summary sample without quantile"))?.parse().map_err(|_| err("quantile is not a number"))?;
                if !(0.0..=1.0).contains(&q) {
                    return Err(err("quantile outside [0, 1]"));
                }
            }
            _ => {}
        }
        f.samples.push((name, labels, value));
    }
    Ok(families)
}

/// `x_sum` and `x_count` belong to summary (or histogram) `x`; `x_bucket` to histogram `x`.
fn family_of(families: &BTreeMap<String, Family>, name: &str) -> String {
    for suffix in ["_sum", "_count", "_bucket"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if let Some(f) = families.get(base) {
                if f.kind == "histogram" || (f.kind == "summary" && suffix != "_bucket") {
                    return base.to_string();
                }
            }
        }
    }
    name.to_string()
}

fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    if ok { Ok(()) } else { Err(format!("bad metric name `{name}`")) }
}

fn unescape(s: &str, quotes: bool) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                Some('"') if quotes => out.push('"'),
                other => return Err(format!("bad escape \\{other:?}")),
            },
            '\n' => return Err("a raw newline".into()),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// `name{a="x",b="y"} value [timestamp]`.
fn sample(line: &str) -> Result<(String, BTreeMap<String, String>, f64), String> {
    let end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..end];
    check_name(name)?;
    let mut rest = &line[end..];
    let mut labels = BTreeMap::new();
    if let Some(body) = rest.strip_prefix('{') {
        let b = body.as_bytes();
        let mut i = 0;
        loop {
            if b.get(i) == Some(&b'}') {
                rest = &body[i + 1..];
                break;
            }
            let eq = body[i..].find('=').ok_or("a label without =")? + i;
            let label = &body[i..eq];
            let ok = label.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok || label.starts_with("__") {
                return Err(format!("bad label name `{label}`"));
            }
            if b.get(eq + 1) != Some(&b'"') {
                return Err(format!("label `{label}`: value not quoted"));
            }
            let mut k = eq + 2;
            loop {
                match b.get(k) {
                    None => return Err("unterminated label value".into()),
                    Some(b'\\') => k += 2,
                    Some(b'"') => break,
                    Some(_) => k += 1,
                }
            }
            let value = unescape(&body[eq + 2..k], true)?;
            if labels.insert(label.to_string(), value).is_some() {
                return Err(format!("label `{label}` twice"));
            }
            i = k + 1;
            match b.get(i) {
                Some(b',') => i += 1,
                Some(b'}') => {}
                _ => return Err("expected , or } after a label".into()),
            }
        }
    }
    let rest = rest.strip_prefix(' ').ok_or("no space before the value")?;
    let mut parts = rest.split(' ');
    let value = parts.next().ok_or("no value")?;
    let value: f64 = match value {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().map_err(|_| format!("bad value `{v}`"))?,
    };
    if let Some(ts) = parts.next() {
        ts.parse::<i64>().map_err(|_| format!("bad timestamp `{ts}`"))?;
    }
    if parts.next().is_some() {
        return Err("trailing text".into());
    }
    Ok((name.to_string(), labels, value))
}

/// The value of the one sample of `name` whose labels include `with`.
pub fn value(families: &BTreeMap<String, Family>, name: &str, with: &[(&str, &str)]) -> Option<f64> {
    let family = family_of(families, name);
    let matching: Vec<f64> = families
        .get(&family)?
        .samples
        .iter()
        .filter(|(n, l, _)| n == name && with.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
        .map(|(_, _, v)| *v)
        .collect();
    assert!(matching.len() <= 1, "{name} {with:?} matches {} samples", matching.len());
    matching.first().copied()
}

pub fn get_metrics(url: &str) -> String {
    let mut r = ureq::get(url).header("authorization", &bearer(url)).call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let ct = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "content type of {url}: {ct}");
    r.body_mut().read_to_string().unwrap()
}

#[test]
fn the_parser_is_strict() {
    let ok = "# HELP a_total Things.\n# TYPE a_total counter\na_total{x=\"q\\\"\\n\\\\\",y=\"\"} 3\na_total 1.5e3\n# TYPE s summary\ns{quantile=\"0.5\"} 0.1\ns_sum 1\ns_count 2\n";
    let f = parse(ok).unwrap();
    assert_eq!(f["a_total"].samples[0].1["x"], "q\"\n\\");
    assert_eq!(value(&f, "s_count", &[]), Some(2.0));
    for bad in [
        "a 1\n",                                        // no TYPE
        "# TYPE a gauge\na{x=\"1\"} one\n",             // bad value
        "# TYPE a gauge\na{x=1} 1\n",                   // unquoted
        "# TYPE a gauge\na{x=\"1\",x=\"2\"} 1\n",       // label twice
        "# TYPE a gauge\na 1\na 2\n",                   // series twice
        "# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na{x=\"y\"} 1\n", // not together
        "# TYPE a counter\na 1\n",                      // counter without _total
        "# TYPE a_total counter\na_total -1\n",         // negative counter
        "# TYPE s summary\ns 1\n",                      // summary sample without quantile
        "# TYPE a gauge\na{x=\"\\t\"} 1\n",             // bad escape
        "# TYPE 1a gauge\n",                            // bad name
        "# TYPE a gauge\na 1",                          // no final newline
        "# TYPE a gauge\na{__x=\"1\"} 1\n",             // reserved label
        "# TYPE a gauge\na 1 2 3\n",                    // trailing text
    ] {
        assert!(parse(bad).is_err(), "accepted: {bad:?}");
    }
}

#[test]
fn orchestrator_and_host_metrics_parse_and_carry_the_figures() {
    let _serial = serial();
    let data = tempfile::tempdir().unwrap();
    let broker = secured_mosquitto(data.path(), "127.0.0.1", None);
    let (api_port, metrics_port) = (free_port(), free_port());
    let api = format!("http://127.0.0.1:{api_port}");
    let rest = Rest(api.clone());
    let _orch = orchestrator(api_port, &broker.url(), data.path());
    let metrics_listen = format!("127.0.0.1:{metrics_port}");
    join(&api, &broker, "m1", data.path());
    let _host = Proc::spawn(&[
        "host", "--broker", &broker.url(), "--name", "m1", "--data-dir", data.path().join("m1").to_str().unwrap(), "--credentials", data.path().join("m1/credentials.json").to_str().unwrap(),
        "--status-interval", "300ms", "--metrics-listen", &metrics_listen,
    ]);
    eventually(30, "the host online", || (online_hosts(&rest) == 1).then_some(()));
    let out = run(&["deploy", "examples/pipeline/app.yaml", "--wait", "--api", &api]);
    assert!(out.status.success(), "deploy: {}\n{}", stdout(&out), stderr(&out));
    let sensor = [("app", "pipeline"), ("module", "sensor"), ("id", "pipeline/sensor"), ("host", "m1")];
    let filter = [("app", "pipeline"), ("module", "filter"), ("id", "pipeline/filter"), ("host", "m1")];

    // The Orchestrator's view (from the Host's status reports).
    let text = eventually(30, "the sensor's activations in the Orchestrator's metrics", || {
        let text = get_metrics(&format!("{api}/metrics"));
        let f = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        (value(&f, "silverline_module_activations_total", &sensor)? >= 5.0 && value(&f, "silverline_module_messages_in_total", &filter)? >= 3.0).then_some(text)
    });
    let f = parse(&text).unwrap();
    for (name, kind) in [
        ("silverline_host_up", "gauge"),
        ("silverline_host_load1", "gauge"),
        ("silverline_host_memory_available_bytes", "gauge"),
        ("silverline_host_process_resident_memory_bytes", "gauge"),
        ("silverline_host_modules", "gauge"),
        ("silverline_module_activations_total", "counter"),
        ("silverline_module_execution_seconds", "summary"),
        ("silverline_module_start_jitter_seconds", "summary"),
        ("silverline_module_fuel_consumed_total", "counter"),
        ("silverline_module_memory_bytes", "gauge"),
        ("silverline_module_messages_in_total", "counter"),
        ("silverline_module_messages_out_total", "counter"),
        ("silverline_module_messages_dropped_total", "counter"),
        ("silverline_module_deadline_misses_total", "counter"),
        ("silverline_module_traps_total", "counter"),
        ("silverline_channel_messages_total", "counter"),
        ("silverline_control_messages_received_total", "counter"),
        ("silverline_control_commands_sent_total", "counter"),
        ("silverline_events_total", "counter"),
    ] {
        assert_eq!(f.get(name).map(|f| f.kind.as_str()), Some(kind), "{name} in\n{text}");
        assert!(f[name].help.is_some(), "{name} has HELP");
    }
    assert_eq!(value(&f, "silverline_host_up", &[("host", "m1")]), Some(1.0));
    assert_eq!(value(&f, "silverline_host_modules", &[("host", "m1")]), Some(3.0));
    assert_eq!(value(&f, "silverline_apps", &[("state", "running")]), Some(1.0));
    assert_eq!(value(&f, "silverline_module_state", &[("id", "pipeline/sink"), ("state", "running")]), Some(1.0));
    let count = value(&f, "silverline_module_execution_seconds_count", &sensor).unwrap();
    let p50 = value(&f, "silverline_module_execution_seconds", &[("id", "pipeline/sensor"), ("quantile", "0.5")]).unwrap();
    let p99 = value(&f, "silverline_module_execution_seconds", &[("id", "pipeline/sensor"), ("quantile", "0.99")]).unwrap();
    assert!(count >= 5.0 && p50 > 0.0 && p50 <= p99 && p99 < 1.0, "execution summary: count {count}, p50 {p50}, p99 {p99}");
    assert!(value(&f, "silverline_module_start_jitter_seconds_count", &sensor).unwrap() >= 1.0);
    assert!(value(&f, "silverline_module_start_jitter_seconds_count", &filter).is_none(), "jitter is for periodic modules only");
    // The pipeline declares no fuel budgets, so its modules run unmetered code: no fuel counted.
    assert_eq!(value(&f, "silverline_module_fuel_consumed_total", &sensor), Some(0.0));
    assert!(value(&f, "silverline_module_memory_bytes", &sensor).unwrap() >= 65536.0);
    assert!(value(&f, "silverline_channel_messages_total", &[("id", "pipeline/sensor"), ("direction", "out"), ("endpoint", "pipeline/raw")]).unwrap() >= 3.0);
    assert!(value(&f, "silverline_control_messages_received_total", &[("topic", "status")]).unwrap() >= 1.0);
    assert_eq!(value(&f, "silverline_control_messages_received_total", &[("topic", "register")]), Some(1.0));
    assert_eq!(value(&f, "silverline_control_commands_sent_total", &[("command", "deploy")]), Some(3.0));
    assert_eq!(value(&f, "silverline_control_acks_total", &[("result", "ok")]), Some(3.0));
    assert_eq!(value(&f, "silverline_events_total", &[("kind", "app-created")]), Some(1.0));

    // The Host's own view.
    let url = format!("http://{metrics_listen}/metrics");
    let text = eventually(10, "the Host's metrics", || {
        let text = get_metrics(&url);
        let f = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        (value(&f, "silverline_module_activations_total", &sensor)? >= 5.0).then_some(text)
    });
    let h = parse(&text).unwrap();
    assert_eq!(value(&h, "silverline_host_modules", &[("host", "m1")]), Some(3.0));
    assert!(value(&h, "silverline_host_memory_total_bytes", &[("host", "m1")]).unwrap() > 0.0);
    assert!(value(&h, "silverline_host_workers", &[("host", "m1")]).unwrap() >= 1.0);
    assert_eq!(value(&h, "silverline_agent_commands_received_total", &[("command", "deploy")]), Some(3.0));
    assert_eq!(value(&h, "silverline_agent_acks_sent_total", &[("result", "ok")]), Some(3.0));
    assert!(value(&h, "silverline_agent_status_reports_sent_total", &[]).unwrap() >= 1.0);
    assert!(value(&h, "silverline_agent_events_sent_total", &[]).unwrap() >= 3.0);
    for family in ["silverline_module_execution_seconds", "silverline_module_messages_out_total", "silverline_channel_messages_total", "silverline_module_traps_total"] {
        assert_eq!(h.get(family).map(|x| &x.kind), f.get(family).map(|x| &x.kind), "{family}: the same family on both");
    }
    // The Host's counters run ahead of (or equal) the Orchestrator's copy of them.
    let host_count = value(&h, "silverline_module_activations_total", &sensor).unwrap();
    assert!(host_count >= value(&f, "silverline_module_activations_total", &sensor).unwrap());
    let (status, _) = Rest(format!("http://{metrics_listen}")).call("GET", "/nope", None);
    assert_eq!(status, 404);
}
