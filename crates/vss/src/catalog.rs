//! The signal catalog: a COVESA VSS JSON export (as `vss-tools` writes it) flattened to one
//! [`Signal`] per leaf, each with a dense 32-bit id so that constrained Hosts can name signals
//! without strings.

use crate::value::{DataType, Value};
use crate::VssError;
use std::collections::BTreeMap;
use std::path::Path;

/// What a leaf is, as VSS says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalKind {
    /// Measured by the vehicle.
    Sensor,
    /// Can be commanded (its value is the target).
    Actuator,
    /// A static property.
    Attribute,
}

impl SignalKind {
    /// Its VSS name.
    pub fn name(self) -> &'static str {
        match self {
            SignalKind::Sensor => "sensor",
            SignalKind::Actuator => "actuator",
            SignalKind::Attribute => "attribute",
        }
    }
}

/// One signal of the catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    /// Dot-separated path (`Vehicle.Cabin.Sunroof.Position`).
    pub path: String,
    /// Dense id: the signal's index in path order.
    pub id: u32,
    /// Sensor, actuator or attribute.
    pub kind: SignalKind,
    /// Its datatype.
    pub datatype: DataType,
    /// Smallest allowed value, if bounded.
    pub min: Option<Value>,
    /// Largest allowed value, if bounded.
    pub max: Option<Value>,
    /// The only values allowed, if the catalog lists them.
    pub allowed: Vec<Value>,
    /// Unit (`percent`, `km/h`), if any.
    pub unit: Option<String>,
    /// Description.
    pub description: String,
}

impl Signal {
    /// Refuse `v` unless it has the signal's type and is within its min, max and allowed values.
    pub fn check(&self, v: &Value) -> Result<(), VssError> {
        let wrong_type = || VssError::WrongType { path: self.path.clone(), datatype: self.datatype.name(), value: v.to_string() };
        let integer = self.datatype.int_range().zip(v.as_i128());
        if integer.is_none() && !self.datatype.admits(v) {
            return Err(wrong_type());
        }
        let out_of = |bound: &Option<Value>, below: bool| match (bound.as_ref().and_then(Value::as_f64), v.as_f64()) {
            (Some(b), Some(x)) => if below { x < b } else { x > b },
            _ => false,
        };
        if out_of(&self.min, true) || out_of(&self.max, false) {
            let bound = |b: &Option<Value>| b.as_ref().map_or("-".to_string(), Value::to_string);
            return Err(VssError::OutOfRange { path: self.path.clone(), value: v.to_string(), min: bound(&self.min), max: bound(&self.max) });
        }
        // An integer beyond the type's bits (300 for an int8, -1 for a uint8) is out of range,
        // not of the wrong type: the writer had the right kind of value.
        if let Some(((lo, hi), x)) = integer {
            if x < lo || x > hi {
                return Err(VssError::OutOfRange { path: self.path.clone(), value: v.to_string(), min: lo.to_string(), max: hi.to_string() });
            }
            if !self.datatype.admits(v) {
                return Err(wrong_type());
            }
        }
        if !self.allowed.is_empty() && !self.allowed.contains(v) {
            let allowed = self.allowed.iter().map(Value::to_string).collect::<Vec<_>>().join(", ");
            return Err(VssError::NotAllowed { path: self.path.clone(), value: v.to_string(), allowed });
        }
        Ok(())
    }
}

/// Every signal of a VSS tree, by path and by id.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    signals: Vec<Signal>,
    by_path: BTreeMap<String, u32>,
    skipped: Vec<(String, String)>,
}

impl Catalog {
    /// Read a VSS JSON export.
    pub fn from_file(path: &Path) -> anyhow::Result<Catalog> {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("reading the VSS catalog {}: {e}", path.display()))?;
        Catalog::from_json(&text).map_err(|e| anyhow::anyhow!("the VSS catalog {}: {e}", path.display()))
    }

    /// Parse a VSS JSON export: an object of root branches, each node with `type` and, for
    /// branches, `children`.
    pub fn from_json(text: &str) -> anyhow::Result<Catalog> {
        let root: serde_json::Value = serde_json::from_str(text)?;
        let roots = root.as_object().ok_or_else(|| anyhow::anyhow!("expected an object of root branches"))?;
        let mut leaves = Vec::new();
        let mut skipped = Vec::new();
        for (name, node) in roots {
            walk(name, node, &mut leaves, &mut skipped)?;
        }
        anyhow::ensure!(!leaves.is_empty(), "it holds no signals");
        leaves.sort_by(|a, b| a.path.cmp(&b.path));
        let mut by_path = BTreeMap::new();
        for (i, s) in leaves.iter_mut().enumerate() {
            s.id = u32::try_from(i)?;
            by_path.insert(s.path.clone(), s.id);
        }
        Ok(Catalog { signals: leaves, by_path, skipped })
    }

    /// Leaves left out because their datatype is not a scalar this crate holds (arrays, struct
    /// types), as (path, datatype): a full VSS export loads, without them.
    pub fn skipped(&self) -> &[(String, String)] {
        &self.skipped
    }

    /// The signal at `path`.
    pub fn get(&self, path: &str) -> Option<&Signal> {
        self.by_path.get(path).map(|&id| &self.signals[id as usize])
    }

    /// The signal with id `id`.
    pub fn by_id(&self, id: u32) -> Option<&Signal> {
        self.signals.get(id as usize)
    }

    /// The signal at `path`, or an error naming it.
    pub fn resolve(&self, path: &str) -> Result<&Signal, VssError> {
        self.get(path).ok_or_else(|| VssError::UnknownSignal(path.to_string()))
    }

    /// Every signal, in path (= id) order.
    pub fn signals(&self) -> &[Signal] {
        &self.signals
    }
}

fn walk(path: &str, node: &serde_json::Value, out: &mut Vec<Signal>, skipped: &mut Vec<(String, String)>) -> anyhow::Result<()> {
    let field = |k: &str| node.get(k);
    let kind = field("type").and_then(|t| t.as_str()).ok_or_else(|| anyhow::anyhow!("{path}: no `type`"))?;
    let kind = match kind {
        "branch" => {
            let children = field("children").and_then(|c| c.as_object()).ok_or_else(|| anyhow::anyhow!("{path}: a branch without `children`"))?;
            for (name, child) in children {
                walk(&format!("{path}.{name}"), child, out, skipped)?;
            }
            return Ok(());
        }
        "sensor" => SignalKind::Sensor,
        "actuator" => SignalKind::Actuator,
        "attribute" => SignalKind::Attribute,
        other => anyhow::bail!("{path}: unknown node type `{other}` (expected branch, sensor, actuator or attribute)"),
    };
    let dt = field("datatype").and_then(|d| d.as_str()).ok_or_else(|| anyhow::anyhow!("{path}: no `datatype`"))?;
    let Some(datatype) = DataType::parse(dt) else {
        skipped.push((path.to_string(), dt.to_string()));
        return Ok(());
    };
    let value = |k: &str| -> anyhow::Result<Option<Value>> {
        match field(k) {
            None => Ok(None),
            Some(j) => Value::from_json(datatype, j).map(Some).ok_or_else(|| anyhow::anyhow!("{path}: `{k}` {j} is not a {dt}")),
        }
    };
    let allowed = match field("allowed") {
        None => Vec::new(),
        Some(list) => list
            .as_array()
            .ok_or_else(|| anyhow::anyhow!("{path}: `allowed` is not a list"))?
            .iter()
            .map(|j| Value::from_json(datatype, j).ok_or_else(|| anyhow::anyhow!("{path}: allowed value {j} is not a {dt}")))
            .collect::<anyhow::Result<_>>()?,
    };
    out.push(Signal {
        path: path.to_string(),
        id: 0,
        kind,
        datatype,
        min: value("min")?,
        max: value("max")?,
        allowed,
        unit: field("unit").and_then(|u| u.as_str()).map(str::to_string),
        description: field("description").and_then(|d| d.as_str()).unwrap_or_default().to_string(),
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TREE: &str = r#"{"Vehicle": {"type": "branch", "children": {
        "Speed": {"type": "sensor", "datatype": "float", "unit": "km/h"},
        "Cabin": {"type": "branch", "children": {"Sunroof": {"type": "branch", "children": {
            "Position": {"type": "actuator", "datatype": "int8", "min": 0, "max": 100, "unit": "percent"},
            "Switch": {"type": "actuator", "datatype": "string", "allowed": ["INACTIVE", "CLOSE", "OPEN"]}
        }}}}}}}"#;

    #[test]
    fn leaves_become_signals_with_ids_in_path_order() {
        let c = Catalog::from_json(TREE).unwrap();
        let paths: Vec<_> = c.signals().iter().map(|s| (s.id, s.path.as_str())).collect();
        assert_eq!(paths, [(0, "Vehicle.Cabin.Sunroof.Position"), (1, "Vehicle.Cabin.Sunroof.Switch"), (2, "Vehicle.Speed")]);
        let pos = c.get("Vehicle.Cabin.Sunroof.Position").unwrap();
        assert_eq!((pos.kind, pos.datatype, pos.min.clone(), pos.max.clone()), (SignalKind::Actuator, DataType::Int(8), Some(Value::Int(0)), Some(Value::Int(100))));
        assert_eq!(c.by_id(2).unwrap().unit.as_deref(), Some("km/h"));
    }

    #[test]
    fn writes_outside_the_catalog_are_refused_with_the_reason() {
        let c = Catalog::from_json(TREE).unwrap();
        let pos = c.get("Vehicle.Cabin.Sunroof.Position").unwrap();
        assert!(pos.check(&Value::Int(100)).is_ok());
        assert!(matches!(pos.check(&Value::Int(101)), Err(VssError::OutOfRange { .. })));
        assert!(matches!(pos.check(&Value::Int(-1)), Err(VssError::OutOfRange { .. })));
        assert!(matches!(pos.check(&Value::Float(50.0)), Err(VssError::WrongType { .. })));
        let switch = c.get("Vehicle.Cabin.Sunroof.Switch").unwrap();
        assert!(switch.check(&Value::String("OPEN".into())).is_ok());
        let e = switch.check(&Value::String("TILT".into())).unwrap_err();
        assert!(e.to_string().contains("INACTIVE"), "{e}");
        assert!(matches!(c.resolve("Vehicle.Nope"), Err(VssError::UnknownSignal(_))));
    }

    #[test]
    fn bad_catalogs_say_where() {
        let e = Catalog::from_json(r#"{"Vehicle": {"type": "branch", "children": {"X": {"type": "sensor", "datatype": "int8", "max": 300}}}}"#).unwrap_err();
        assert!(e.to_string().contains("Vehicle.X: `max` 300 is not a int8"), "{e}");
    }

    #[test]
    fn arrays_and_struct_types_are_left_out_and_listed() {
        let c = Catalog::from_json(r#"{"Vehicle": {"type": "branch", "children": {"X": {"type": "sensor", "datatype": "int8[]"},
            "Y": {"type": "sensor", "datatype": "Types.Info"}, "Z": {"type": "sensor", "datatype": "int8"}}}}"#).unwrap();
        assert_eq!(c.signals().len(), 1);
        assert_eq!(c.skipped(), [("Vehicle.X".to_string(), "int8[]".to_string()), ("Vehicle.Y".to_string(), "Types.Info".to_string())]);
    }

    #[test]
    fn integers_beyond_their_bits_are_out_of_range() {
        let c = Catalog::from_json(r#"{"Vehicle": {"type": "branch", "children": {"I": {"type": "sensor", "datatype": "int8"},
            "U": {"type": "sensor", "datatype": "uint8"}}}}"#).unwrap();
        let (i, u) = (c.get("Vehicle.I").unwrap(), c.get("Vehicle.U").unwrap());
        let e = i.check(&Value::Int(300)).unwrap_err();
        assert!(matches!(e, VssError::OutOfRange { .. }) && e.to_string().contains("[-128, 127]"), "{e}");
        assert!(matches!(u.check(&Value::Int(-1)), Err(VssError::OutOfRange { .. })));
        assert!(matches!(u.check(&Value::UInt(256)), Err(VssError::OutOfRange { .. })));
        assert!(u.check(&Value::UInt(255)).is_ok() && i.check(&Value::Int(-128)).is_ok());
        assert!(matches!(i.check(&Value::Bool(true)), Err(VssError::WrongType { .. })));
    }
}
