//! A small network lab for multi-host tests: a **core** network namespace (Orchestrator, broker,
//! ORT Host) and one namespace per Host, each joined to the core by its own veth pair, so a test
//! can cut one Host's link while its process keeps running.
//!
//! ```text
//!  root ns ── {p}r 10.213.100.1 ─── {p}k 10.213.100.2 ── core ns (lo: 10.213.0.1)
//!                                     {p}c1 10.213.1.1 ─── {p}e1 10.213.1.2  host ns 1
//!                                     {p}c2 10.213.2.1 ─── {p}e2 10.213.2.2  host ns 2
//! ```
//!
//! Services in the core bind 10.213.0.1; Hosts reach it through their link, the test process
//! through a route the lab adds (and removes with its veth). Everything is deleted on drop.
//! Needs CAP_NET_ADMIN: [`Lab::create`] says why it cannot when it cannot.

use std::process::Command;

/// The address the core's services listen on.
pub const CORE_ADDR: &str = "10.213.0.1";

/// Namespaces and links created by one test; removed when dropped.
pub struct Lab {
    prefix: String,
    hosts: usize,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip").args(args).output().map_err(|e| format!("running `ip`: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("`ip {}`: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

impl Lab {
    /// Create the core and `hosts` Host namespaces (1-based), or say why it is not possible.
    pub fn create(hosts: usize) -> Result<Lab, String> {
        let prefix = format!("sl{}", std::process::id() % 100_000);
        let lab = Lab { prefix, hosts: 0 };
        let core = lab.core();
        ip(&["netns", "add", &core])?;
        let mut lab = lab;
        lab.in_ns(&core, &["link", "set", "lo", "up"])?;
        lab.in_ns(&core, &["addr", "add", &format!("{CORE_ADDR}/32"), "dev", "lo"])?;
        let (r, k) = (format!("{}r", lab.prefix), format!("{}k", lab.prefix));
        ip(&["link", "add", &r, "type", "veth", "peer", "name", &k])?;
        ip(&["link", "set", &k, "netns", &core])?;
        ip(&["addr", "add", "10.213.100.1/24", "dev", &r])?;
        ip(&["link", "set", &r, "up"])?;
        lab.in_ns(&core, &["addr", "add", "10.213.100.2/24", "dev", &k])?;
        lab.in_ns(&core, &["link", "set", &k, "up"])?;
        ip(&["route", "add", &format!("{CORE_ADDR}/32"), "via", "10.213.100.2"])?;
        for i in 1..=hosts {
            lab.add_host(i)?;
            lab.hosts = i;
        }
        Ok(lab)
    }

    fn add_host(&self, i: usize) -> Result<(), String> {
        let (core, ns) = (self.core(), self.host(i));
        let (c, e) = (format!("{}c{i}", self.prefix), format!("{}e{i}", self.prefix));
        ip(&["netns", "add", &ns])?;
        self.in_ns(&ns, &["link", "set", "lo", "up"])?;
        ip(&["link", "add", &c, "type", "veth", "peer", "name", &e])?;
        ip(&["link", "set", &c, "netns", &core])?;
        ip(&["link", "set", &e, "netns", &ns])?;
        self.in_ns(&core, &["addr", "add", &format!("10.213.{i}.1/24"), "dev", &c])?;
        self.in_ns(&core, &["link", "set", &c, "up"])?;
        self.in_ns(&ns, &["addr", "add", &format!("10.213.{i}.2/24"), "dev", &e])?;
        self.in_ns(&ns, &["link", "set", &e, "up"])?;
        self.in_ns(&ns, &["route", "add", "default", "via", &format!("10.213.{i}.1")])
    }

    fn in_ns(&self, ns: &str, args: &[&str]) -> Result<(), String> {
        let mut all = vec!["netns", "exec", ns, "ip"];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// The core namespace's name.
    pub fn core(&self) -> String {
        format!("{}core", self.prefix)
    }

    /// Host namespace `i`'s name (1-based).
    pub fn host(&self, i: usize) -> String {
        format!("{}h{i}", self.prefix)
    }

    /// A command that runs `program` inside namespace `ns`.
    pub fn command(&self, ns: &str, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, program]);
        c
    }

    /// Cut Host `i`'s only link (both directions; its processes keep running).
    pub fn cut(&self, i: usize) {
        self.in_ns(&self.core(), &["link", "set", &format!("{}c{i}", self.prefix), "down"]).expect("cut a link");
    }

    /// Restore Host `i`'s link.
    pub fn heal(&self, i: usize) {
        self.in_ns(&self.core(), &["link", "set", &format!("{}c{i}", self.prefix), "up"]).expect("heal a link");
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth ends in it and so their peers; the route goes
        // with the root-side veth.
        for i in 1..=self.hosts {
            let _ = ip(&["netns", "del", &self.host(i)]);
        }
        let _ = ip(&["link", "del", &format!("{}r", self.prefix)]);
        let _ = ip(&["netns", "del", &self.core()]);
    }
}
