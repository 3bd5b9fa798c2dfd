//! TLS on both ports: the REST API over https and the embedded broker over mqtts, with a CA
//! and a server certificate made by `openssl` for this test. A Host enrolled over https gets the
//! CA in its credentials and runs an application; plain clients get nowhere.

use crate::common::*;
use silverline_test_programs::COUNTER_C;
use std::path::Path;
use std::process::Command;

/// A CA and a certificate for 127.0.0.1 signed by it, in `dir`.
fn certificates(dir: &Path) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs (apt-get install openssl)");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(&[&["req", "-x509"][..], &ec, &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=silverline test CA"]].concat());
    openssl(&[&["req"][..], &ec, &["-keyout", "key.pem", "-out", "leaf.csr", "-subj", "/CN=127.0.0.1"]].concat());
    std::fs::write(dir.join("leaf.ext"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n").unwrap();
    openssl(&["x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "cert.pem", "-days", "2", "-extfile", "leaf.ext"]);
}

#[test]
fn rest_and_mqtt_speak_tls_and_hosts_trust_the_enrolled_ca() {
    let _serial = serial();
    let data = tempfile::tempdir().unwrap();
    let certs = tempfile::tempdir().unwrap();
    certificates(certs.path());
    let c = |f: &str| certs.path().join(f).to_str().unwrap().to_string();
    let (api_port, mqtt_port) = (free_port(), free_port());
    let (listen, mqtt) = (format!("127.0.0.1:{api_port}"), format!("127.0.0.1:{mqtt_port}"));
    let d = data.path().to_str().unwrap();
    let _orch = Proc::spawn(&["orchestrator", "--listen", &listen, "--mqtt-listen", &mqtt, "--data-dir", d, "--tls-cert", &c("cert.pem"), "--tls-key", &c("key.pem"), "--tls-ca", &c("ca.pem"), "--host-timeout", "2s"]);
    let api = format!("https://{listen}");
    let token = remember_admin_token(&api, data.path());
    let ca = std::fs::read(c("ca.pem")).unwrap();
    let https = silverline_security::tls::http_agent(Some(&ca)).unwrap();
    let get = |path: &str| https.get(&format!("{api}{path}")).header("authorization", &format!("Bearer {token}")).call();
    eventually(30, "the REST API answers over https", || get("/v1/hosts").ok().filter(|r| r.status() == 200).map(|_| ()));
    let plain: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    assert!(plain.get(&format!("http://{listen}/v1/hosts")).call().is_err(), "plain HTTP is not served");
    assert!(silverline_security::tls::http_agent(None).unwrap().get(&format!("{api}/v1/hosts")).call().is_err(), "a client that does not trust the CA is refused");

    // Enrol over https; the credentials carry the CA, the broker as mqtts://, the registry as https://.
    let creds_file = data.path().join("h1/credentials.json");
    std::fs::create_dir_all(data.path().join("h1")).unwrap();
    let enroll = silverline()
        .env("SILVERLINE_TOKEN", &token)
        .env("SILVERLINE_CA", c("ca.pem"))
        .args(["host", "enroll", "h1", "--out", creds_file.to_str().unwrap(), "--api", &api])
        .output()
        .unwrap();
    assert!(enroll.status.success(), "{}", stderr(&enroll));
    let creds: serde_json::Value = serde_json::from_slice(&std::fs::read(&creds_file).unwrap()).unwrap();
    assert_eq!(creds["broker"], format!("mqtts://{mqtt}"));
    assert!(creds["registry"].as_str().unwrap().starts_with("https://"), "{creds}");
    assert!(creds["ca"].as_str().unwrap().contains("BEGIN CERTIFICATE"));
    let _host = Proc::spawn(&["host", "--name", "h1", "--data-dir", data.path().join("h1").to_str().unwrap(), "--status-interval", "300ms"]);
    eventually(30, "h1 online over mqtts", || get("/v1/hosts/h1").ok().and_then(|mut r| r.body_mut().read_json::<serde_json::Value>().ok()).filter(|h| h["online"] == true).map(|_| ()));

    // An application runs: its module bytes come over https with the Host's registry token.
    let file = data.path().join("tls.yaml");
    std::fs::write(&file, format!("name: tls\nmodules:\n  - name: c\n    file: {COUNTER_C}\n    trigger: {{ type: periodic, periodInNs: 100000000 }}\n    outputChannels: {{ channels: [{{ name: out, endpoint: tls/c }}] }}\n")).unwrap();
    let deploy = silverline().env("SILVERLINE_TOKEN", &token).env("SILVERLINE_CA", c("ca.pem")).args(["deploy", file.to_str().unwrap(), "--wait", "--api", &api]).output().unwrap();
    assert!(deploy.status.success(), "{}", stderr(&deploy));

    // MQTT: plain clients are not understood; a TLS client with the observer's login reads data.
    let observer = https.post(&format!("{api}/v1/observer")).header("authorization", &format!("Bearer {token}")).send("").unwrap().body_mut().read_json::<serde_json::Value>().unwrap();
    let (user, password) = (observer["username"].as_str().unwrap(), observer["password"].as_str().unwrap());
    let sub = |tls: bool| {
        let mut cmd = Command::new("mosquitto_sub");
        cmd.args(["-h", "127.0.0.1", "-p", &mqtt_port.to_string(), "-u", user, "-P", password, "-t", "tls/c", "-C", "1", "-W", "10"]);
        if tls {
            cmd.args(["--cafile", &c("ca.pem")]);
        }
        cmd.output().expect("mosquitto_sub runs (apt-get install mosquitto-clients)")
    };
    let seen = sub(true);
    assert!(seen.status.success() && !seen.stdout.is_empty(), "a TLS observer reads the counter: {}", String::from_utf8_lossy(&seen.stderr));
    assert!(!sub(false).status.success(), "a plain MQTT client got through the TLS port");
}
