//! The node tree: metadata, values, owners and watches, shared by every module of a Host, its
//! field I/O and its servers (OPC UA).

use crate::DlError;
use parking_lot::{Mutex, RwLock};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

/// Called after a watched node changes; the same type as a Host API's waker.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// What a node holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeType {
    /// A 64-bit float.
    F64,
    /// A 64-bit signed integer.
    I64,
    /// A boolean.
    Bool,
}

impl NodeType {
    /// Its name in configuration and messages.
    pub fn name(self) -> &'static str {
        match self {
            NodeType::F64 => "f64",
            NodeType::I64 => "i64",
            NodeType::Bool => "bool",
        }
    }
}

/// A node's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// A float.
    F64(f64),
    /// An integer.
    I64(i64),
    /// A boolean.
    Bool(bool),
}

impl Value {
    fn kind(self) -> NodeType {
        match self {
            Value::F64(_) => NodeType::F64,
            Value::I64(_) => NodeType::I64,
            Value::Bool(_) => NodeType::Bool,
        }
    }

    fn as_f64(self) -> Option<f64> {
        match self {
            Value::F64(x) => Some(x),
            Value::I64(i) => Some(i as f64),
            Value::Bool(_) => None,
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::F64(x) => write!(f, "{x}"),
            Value::I64(i) => write!(f, "{i}"),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// A node's metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    /// What it holds.
    pub kind: NodeType,
    /// Unit (`rad`, `m/s`), if any.
    pub unit: Option<String>,
    /// Smallest value a write may set.
    pub min: Option<f64>,
    /// Largest value a write may set.
    pub max: Option<f64>,
    /// Field input: only I/O writes it; modules read it.
    pub read_only: bool,
}

impl Meta {
    /// A node of `kind`, writable, unbounded, without unit.
    pub fn new(kind: NodeType) -> Meta {
        Meta { kind, unit: None, min: None, max: None, read_only: false }
    }

    /// With a unit.
    pub fn unit(mut self, unit: &str) -> Meta {
        self.unit = Some(unit.to_string());
        self
    }

    /// With bounds on writes.
    pub fn bounds(mut self, min: f64, max: f64) -> Meta {
        (self.min, self.max) = (Some(min), Some(max));
        self
    }

    /// Field input: modules may not write it.
    pub fn read_only(mut self) -> Meta {
        self.read_only = true;
        self
    }
}

/// Who writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer<'a> {
    /// Field I/O (a plant, a bus master): writes read-only nodes, ignores ownership.
    Io,
    /// A module, `app/module`.
    Module(&'a str),
}

struct Node {
    path: String,
    meta: Meta,
    value: Option<Value>,
    version: u64,
    owner: Option<String>,
}

type Watchers = Mutex<Vec<(u64, u32, Waker)>>;

/// Keeps a watch alive; dropping it ends it.
pub struct Watch {
    watchers: Weak<Watchers>,
    key: u64,
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(w) = self.watchers.upgrade() {
            w.lock().retain(|(k, _, _)| *k != self.key);
        }
    }
}

/// The datalayer of one Host.
#[derive(Default)]
pub struct Datalayer {
    nodes: RwLock<Vec<Node>>,
    by_path: RwLock<BTreeMap<String, u32>>,
    watchers: Arc<Watchers>,
    next_key: AtomicU64,
    /// Live instances per owning module: its claims end when the count drops to zero.
    instances: Mutex<BTreeMap<String, usize>>,
}

fn valid_path(path: &str) -> bool {
    !path.is_empty() && path.split('/').all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
}

impl Datalayer {
    /// An empty datalayer.
    pub fn new() -> Arc<Datalayer> {
        Arc::new(Datalayer::default())
    }

    /// Add a node; its id.
    pub fn add(&self, path: &str, meta: Meta) -> Result<u32, DlError> {
        if !valid_path(path) {
            return Err(DlError::BadPath(path.to_string()));
        }
        let mut by_path = self.by_path.write();
        if by_path.contains_key(path) {
            return Err(DlError::Exists(path.to_string()));
        }
        let mut nodes = self.nodes.write();
        let id = nodes.len() as u32;
        nodes.push(Node { path: path.to_string(), meta, value: None, version: 0, owner: None });
        by_path.insert(path.to_string(), id);
        Ok(id)
    }

    /// The id of the node at `path`.
    pub fn resolve(&self, path: &str) -> Result<u32, DlError> {
        self.by_path.read().get(path).copied().ok_or_else(|| DlError::NoNode(path.to_string()))
    }

    /// Every node's path and metadata, in id order (for browsing and servers).
    pub fn nodes(&self) -> Vec<(String, Meta)> {
        self.nodes.read().iter().map(|n| (n.path.clone(), n.meta.clone())).collect()
    }

    /// The node's metadata.
    pub fn meta(&self, id: u32) -> Result<Meta, DlError> {
        self.with(id, |n| n.meta.clone())
    }

    /// The node's value (`None`: never written) and version (writes so far).
    pub fn read(&self, id: u32) -> Result<(Option<Value>, u64), DlError> {
        self.with(id, |n| (n.value, n.version))
    }

    fn with<T>(&self, id: u32, f: impl FnOnce(&Node) -> T) -> Result<T, DlError> {
        self.nodes.read().get(id as usize).map(f).ok_or_else(|| DlError::NoNode(format!("#{id}")))
    }

    /// Would `writer` be allowed to write `v` to node `id`? (Nothing changes.)
    pub fn check(&self, id: u32, writer: Writer<'_>, v: Value) -> Result<(), DlError> {
        self.with(id, |n| check(n, writer, v))?
    }

    /// Write `v` to node `id` as `writer`, after the checks; watchers are woken.
    pub fn write(&self, id: u32, writer: Writer<'_>, v: Value) -> Result<(), DlError> {
        {
            let mut nodes = self.nodes.write();
            let n = nodes.get_mut(id as usize).ok_or_else(|| DlError::NoNode(format!("#{id}")))?;
            check(n, writer, v)?;
            n.value = Some(v);
            n.version += 1;
        }
        // Woken outside the lock: a woken module may read at once.
        let wakers: Vec<Waker> = self.watchers.lock().iter().filter(|(_, n, _)| *n == id).map(|(_, _, w)| w.clone()).collect();
        for wake in wakers {
            wake();
        }
        Ok(())
    }

    /// Module `owner` claims node `id` for its writes (again: no change).
    pub fn claim(&self, id: u32, owner: &str) -> Result<(), DlError> {
        let mut nodes = self.nodes.write();
        let n = nodes.get_mut(id as usize).ok_or_else(|| DlError::NoNode(format!("#{id}")))?;
        if n.meta.read_only {
            return Err(DlError::ReadOnly(n.path.clone()));
        }
        match &n.owner {
            Some(o) if o != owner => Err(DlError::Owned { path: n.path.clone(), owner: o.clone() }),
            _ => {
                n.owner = Some(owner.to_string());
                Ok(())
            }
        }
    }

    /// Module `owner` gives node `id` up (a node it does not own: an error, nothing changes).
    pub fn release(&self, id: u32, owner: &str) -> Result<(), DlError> {
        let mut nodes = self.nodes.write();
        let n = nodes.get_mut(id as usize).ok_or_else(|| DlError::NoNode(format!("#{id}")))?;
        match &n.owner {
            Some(o) if o == owner => {
                n.owner = None;
                Ok(())
            }
            Some(o) => Err(DlError::Owned { path: n.path.clone(), owner: o.clone() }),
            None => Ok(()),
        }
    }

    /// The owner of node `id`, if any.
    pub fn owner(&self, id: u32) -> Result<Option<String>, DlError> {
        self.with(id, |n| n.owner.clone())
    }

    /// An instance of module `owner` starts.
    pub fn instance_started(&self, owner: &str) {
        *self.instances.lock().entry(owner.to_string()).or_insert(0) += 1;
    }

    /// An instance of module `owner` stopped; with its last, its claims end.
    pub fn instance_stopped(&self, owner: &str) {
        let mut instances = self.instances.lock();
        let Some(n) = instances.get_mut(owner) else { return };
        *n -= 1;
        if *n > 0 {
            return;
        }
        instances.remove(owner);
        for node in self.nodes.write().iter_mut().filter(|n| n.owner.as_deref() == Some(owner)) {
            node.owner = None;
        }
    }

    /// Call `wake` after every write of node `id`, for as long as the [`Watch`] lives. It runs
    /// on the writer's thread: keep it short.
    pub fn watch(&self, id: u32, wake: Waker) -> Result<Watch, DlError> {
        self.with(id, |_| ())?;
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        self.watchers.lock().push((key, id, wake));
        Ok(Watch { watchers: Arc::downgrade(&self.watchers), key })
    }
}

fn check(n: &Node, writer: Writer<'_>, v: Value) -> Result<(), DlError> {
    if v.kind() != n.meta.kind {
        return Err(DlError::WrongType { path: n.path.clone(), expected: n.meta.kind.name(), value: v.to_string() });
    }
    if let Writer::Module(module) = writer {
        if n.meta.read_only {
            return Err(DlError::ReadOnly(n.path.clone()));
        }
        if let Some(owner) = n.owner.as_deref().filter(|o| *o != module) {
            return Err(DlError::Owned { path: n.path.clone(), owner: owner.to_string() });
        }
    }
    let x = v.as_f64();
    let below = matches!((x, n.meta.min), (Some(x), Some(min)) if x < min);
    let above = matches!((x, n.meta.max), (Some(x), Some(max)) if x > max);
    if below || above {
        let b = |b: Option<f64>| b.map_or("-".to_string(), |b| b.to_string());
        return Err(DlError::OutOfRange { path: n.path.clone(), value: v.to_string(), min: b(n.meta.min), max: b(n.meta.max) });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plant() -> (Arc<Datalayer>, u32, u32) {
        let dl = Datalayer::new();
        let angle = dl.add("plant/pendulum/angle", Meta::new(NodeType::F64).unit("rad").read_only()).unwrap();
        let drive = dl.add("plant/cart/velocity_cmd", Meta::new(NodeType::F64).unit("m/s").bounds(-2.0, 2.0)).unwrap();
        (dl, angle, drive)
    }

    #[test]
    fn paths_are_checked_and_unique() {
        let (dl, _, _) = plant();
        for bad in ["", "a//b", "/a", "a/", "a b", "a/ä"] {
            assert!(matches!(dl.add(bad, Meta::new(NodeType::Bool)), Err(DlError::BadPath(_))), "{bad:?}");
        }
        assert!(matches!(dl.add("plant/pendulum/angle", Meta::new(NodeType::F64)), Err(DlError::Exists(_))));
        assert!(matches!(dl.resolve("plant/nope"), Err(DlError::NoNode(_))));
    }

    #[test]
    fn modules_read_field_input_and_only_io_writes_it() {
        let (dl, angle, _) = plant();
        dl.write(angle, Writer::Io, Value::F64(3.1)).unwrap();
        assert_eq!(dl.read(angle).unwrap(), (Some(Value::F64(3.1)), 1));
        assert!(matches!(dl.write(angle, Writer::Module("p/c"), Value::F64(0.0)), Err(DlError::ReadOnly(_))));
        assert!(matches!(dl.claim(angle, "p/c"), Err(DlError::ReadOnly(_))));
        assert_eq!(dl.read(angle).unwrap(), (Some(Value::F64(3.1)), 1), "the refused write changed nothing");
    }

    #[test]
    fn a_claimed_node_refuses_other_writers_until_its_module_is_gone() {
        let (dl, _, drive) = plant();
        dl.instance_started("p/sense");
        dl.claim(drive, "p/sense").unwrap();
        dl.write(drive, Writer::Module("p/sense"), Value::F64(1.0)).unwrap();
        let e = dl.write(drive, Writer::Module("p/other"), Value::F64(-1.0)).unwrap_err();
        assert_eq!(e, DlError::Owned { path: "plant/cart/velocity_cmd".into(), owner: "p/sense".into() });
        assert!(matches!(dl.claim(drive, "p/other"), Err(DlError::Owned { .. })));
        assert!(matches!(dl.release(drive, "p/other"), Err(DlError::Owned { .. })));
        // A second instance (a shadow) of the same module shares the claim; the claim ends with
        // the last instance.
        dl.instance_started("p/sense");
        dl.instance_stopped("p/sense");
        assert_eq!(dl.owner(drive).unwrap().as_deref(), Some("p/sense"));
        dl.instance_stopped("p/sense");
        assert_eq!(dl.owner(drive).unwrap(), None);
        dl.write(drive, Writer::Module("p/other"), Value::F64(-1.0)).unwrap();
        assert_eq!(dl.read(drive).unwrap(), (Some(Value::F64(-1.0)), 2));
    }

    #[test]
    fn types_and_bounds_are_enforced() {
        let (dl, _, drive) = plant();
        assert!(matches!(dl.write(drive, Writer::Module("m/a"), Value::I64(1)), Err(DlError::WrongType { .. })));
        let e = dl.write(drive, Writer::Io, Value::F64(2.5)).unwrap_err();
        assert!(matches!(e, DlError::OutOfRange { .. }) && e.to_string().contains("[-2, 2]"), "{e}");
        assert_eq!(dl.read(drive).unwrap(), (None, 0));
    }

    #[test]
    fn watchers_are_woken_by_their_node_until_dropped() {
        let (dl, angle, drive) = plant();
        let n = Arc::new(AtomicU64::new(0));
        let seen = n.clone();
        let watch = dl.watch(angle, Arc::new(move || {
            seen.fetch_add(1, Ordering::Relaxed);
        })).unwrap();
        dl.write(angle, Writer::Io, Value::F64(0.1)).unwrap();
        dl.write(drive, Writer::Io, Value::F64(0.1)).unwrap();
        assert_eq!(n.load(Ordering::Relaxed), 1);
        drop(watch);
        dl.write(angle, Writer::Io, Value::F64(0.2)).unwrap();
        assert_eq!(n.load(Ordering::Relaxed), 1);
    }
}
