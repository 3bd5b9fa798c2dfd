//! Between silverline's VSS types ([`Value`], [`DataType`], [`Signal`]) and Kuksa's wire types,
//! both ways, and from a refused write ([`VssError`]) to what a Kuksa client expects to see.
//!
//! On the wire an `int8`/`int16`/`int32` travels as `int32` and a `uint8`/`uint16`/`uint32` as
//! `uint32` (zigzag for the signed ones); `float` as a 32-bit float. Arrays are refused: the
//! catalog holds scalars only.

use crate::proto::{v1, v2};
use silverline_vss::{Catalog, DataType, Datapoint, Signal, SignalKind, Value, VssError};
use tonic::Status;

/// Why a value from the wire cannot be written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WireError {
    /// The request carried no value.
    #[error("`{0}`: the request carries no value")]
    NoValue(String),
    /// An array, which the catalog cannot hold.
    #[error("`{0}`: array values are not supported by this databroker (the catalog holds scalars only)")]
    Array(String),
}

impl From<WireError> for Status {
    fn from(e: WireError) -> Status {
        Status::invalid_argument(e.to_string())
    }
}

/// The Kuksa `DataType` number of a VSS datatype (the same in v1 and v2).
pub fn data_type(dt: DataType) -> v2::DataType {
    use v2::DataType as K;
    match dt {
        DataType::Boolean => K::Boolean,
        DataType::String => K::String,
        DataType::Int(8) => K::Int8,
        DataType::Int(16) => K::Int16,
        DataType::Int(32) => K::Int32,
        DataType::Int(_) => K::Int64,
        DataType::UInt(8) => K::Uint8,
        DataType::UInt(16) => K::Uint16,
        DataType::UInt(32) => K::Uint32,
        DataType::UInt(_) => K::Uint64,
        DataType::Float => K::Float,
        DataType::Double => K::Double,
    }
}

/// The VSS datatype name of a Kuksa `DataType`, if it is a scalar the catalog can hold.
pub fn vss_datatype_name(k: v2::DataType) -> Option<&'static str> {
    use v2::DataType as K;
    Some(match k {
        K::Boolean => "boolean",
        K::String => "string",
        K::Int8 => "int8",
        K::Int16 => "int16",
        K::Int32 => "int32",
        K::Int64 => "int64",
        K::Uint8 => "uint8",
        K::Uint16 => "uint16",
        K::Uint32 => "uint32",
        K::Uint64 => "uint64",
        K::Float => "float",
        K::Double => "double",
        _ => return None,
    })
}

/// The Kuksa `EntryType` of a signal kind (the same numbers in v1 and v2).
pub fn entry_type(kind: SignalKind) -> v2::EntryType {
    match kind {
        SignalKind::Sensor => v2::EntryType::Sensor,
        SignalKind::Actuator => v2::EntryType::Actuator,
        SignalKind::Attribute => v2::EntryType::Attribute,
    }
}

/// A value of signal `s` as a v2 `Value`, typed as Kuksa types that signal.
pub fn to_v2(s: &Signal, v: &Value) -> v2::Value {
    use v2::value::TypedValue as T;
    let typed = match (s.datatype, v) {
        (_, Value::Bool(b)) => T::Bool(*b),
        (_, Value::String(x)) => T::String(x.clone()),
        (DataType::Int(bits), Value::Int(i)) if bits <= 32 => T::Int32(*i as i32),
        (_, Value::Int(i)) => T::Int64(*i),
        (DataType::UInt(bits), Value::UInt(u)) if bits <= 32 => T::Uint32(*u as u32),
        (_, Value::UInt(u)) => T::Uint64(*u),
        (DataType::Float, Value::Float(f)) => T::Float(*f as f32),
        (_, Value::Float(f)) => T::Double(*f),
    };
    v2::Value { typed_value: Some(typed) }
}

/// A v2 value for signal `path` as a silverline value. Its type is not checked here: the
/// catalog's [`Signal::check`] does that on the write.
pub fn from_v2(path: &str, v: Option<&v2::Value>) -> Result<Value, WireError> {
    use v2::value::TypedValue as T;
    Ok(match v.and_then(|v| v.typed_value.as_ref()) {
        None => return Err(WireError::NoValue(path.to_string())),
        Some(T::String(x)) => Value::String(x.clone()),
        Some(T::Bool(b)) => Value::Bool(*b),
        Some(T::Int32(i)) => Value::Int(i64::from(*i)),
        Some(T::Int64(i)) => Value::Int(*i),
        Some(T::Uint32(u)) => Value::UInt(u64::from(*u)),
        Some(T::Uint64(u)) => Value::UInt(*u),
        Some(T::Float(f)) => Value::Float(float_from_f32(*f)),
        Some(T::Double(f)) => Value::Float(*f),
        Some(_) => return Err(WireError::Array(path.to_string())),
    })
}

/// A value of signal `s` as a v1 `Datapoint` value.
pub fn to_v1(s: &Signal, v: &Value) -> v1::datapoint::Value {
    use v1::datapoint::Value as V;
    use v2::value::TypedValue as T;
    // One typing rule for both versions: derive the v1 oneof from the v2 one.
    match to_v2(s, v).typed_value {
        Some(T::String(x)) => V::String(x),
        Some(T::Bool(b)) => V::Bool(b),
        Some(T::Int32(i)) => V::Int32(i),
        Some(T::Int64(i)) => V::Int64(i),
        Some(T::Uint32(u)) => V::Uint32(u),
        Some(T::Uint64(u)) => V::Uint64(u),
        Some(T::Float(f)) => V::Float(f),
        Some(T::Double(f)) => V::Double(f),
        // to_v2 gives scalars only; a double is the closest thing to an impossible case.
        _ => V::Double(v.as_f64().unwrap_or_default()),
    }
}

/// A v1 datapoint for signal `path` as a silverline value.
pub fn from_v1(path: &str, dp: Option<&v1::Datapoint>) -> Result<Value, WireError> {
    use v1::datapoint::Value as V;
    Ok(match dp.and_then(|d| d.value.as_ref()) {
        None => return Err(WireError::NoValue(path.to_string())),
        Some(V::String(x)) => Value::String(x.clone()),
        Some(V::Bool(b)) => Value::Bool(*b),
        Some(V::Int32(i)) => Value::Int(i64::from(*i)),
        Some(V::Int64(i)) => Value::Int(*i),
        Some(V::Uint32(u)) => Value::UInt(u64::from(*u)),
        Some(V::Uint64(u)) => Value::UInt(*u),
        Some(V::Float(f)) => Value::Float(float_from_f32(*f)),
        Some(V::Double(f)) => Value::Float(*f),
        Some(_) => return Err(WireError::Array(path.to_string())),
    })
}

/// An f32 from the wire as the f64 a person meant: 0.1f32 becomes 0.1, not 0.10000000149.
/// Going back to f32 gives the same bits, so nothing is lost either way.
fn float_from_f32(f: f32) -> f64 {
    f.to_string().parse().unwrap_or(f64::from(f))
}

/// A Unix time in ns as a protobuf timestamp.
pub fn timestamp(unix_ns: i64) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: unix_ns.div_euclid(1_000_000_000), nanos: unix_ns.rem_euclid(1_000_000_000) as i32 }
}

/// A protobuf timestamp as Unix time in ns.
pub fn unix_ns(t: &prost_types::Timestamp) -> i64 {
    t.seconds.saturating_mul(1_000_000_000).saturating_add(i64::from(t.nanos))
}

/// A stored datapoint as a v2 datapoint; `None` (never set) becomes a datapoint without a value,
/// as Kuksa answers for a signal that has none.
pub fn v2_datapoint(s: &Signal, d: Option<&Datapoint>) -> v2::Datapoint {
    match d {
        Some(d) => v2::Datapoint { timestamp: Some(timestamp(d.unix_ns)), value: Some(to_v2(s, &d.value)) },
        None => v2::Datapoint { timestamp: None, value: None },
    }
}

/// A stored datapoint as a v1 datapoint (no value: the oneof is unset).
pub fn v1_datapoint(s: &Signal, d: Option<&Datapoint>) -> v1::Datapoint {
    match d {
        Some(d) => v1::Datapoint { timestamp: Some(timestamp(d.unix_ns)), value: Some(to_v1(s, &d.value)) },
        None => v1::Datapoint { timestamp: None, value: None },
    }
}

/// The gRPC status of a refused read or write: NOT_FOUND for an unknown signal,
/// INVALID_ARGUMENT (with the path and the bound) for a value the catalog refuses.
pub fn status(e: &VssError) -> Status {
    match e {
        VssError::UnknownSignal(_) | VssError::UnknownId(_) => Status::not_found(e.to_string()),
        VssError::WrongType { .. } | VssError::OutOfRange { .. } | VssError::NotAllowed { .. } => Status::invalid_argument(e.to_string()),
        VssError::Unavailable(_) => Status::unavailable(e.to_string()),
    }
}

/// A refused v1 write as Kuksa reports it per entry: HTTP-like code, a short reason, and the
/// catalog's message.
pub fn v1_error(e: &VssError) -> v1::Error {
    let (code, reason) = match e {
        VssError::UnknownSignal(_) | VssError::UnknownId(_) => (404, "not_found"),
        VssError::WrongType { .. } => (400, "type mismatch"),
        VssError::OutOfRange { .. } => (400, "value out of bounds"),
        VssError::NotAllowed { .. } => (400, "value not allowed"),
        VssError::Unavailable(_) => (503, "unavailable"),
    };
    v1::Error { code, reason: reason.to_string(), message: e.to_string() }
}

/// A v1 per-entry error for a value that could not even be read off the wire.
pub fn v1_wire_error(e: &WireError) -> v1::Error {
    v1::Error { code: 400, reason: "bad_request".to_string(), message: e.to_string() }
}

/// A signal's v2 metadata; `id` is its catalog id.
pub fn v2_metadata(s: &Signal) -> v2::Metadata {
    let allowed = (!s.allowed.is_empty()).then(|| v2_array(s, &s.allowed));
    v2::Metadata {
        path: s.path.clone(),
        id: i32::try_from(s.id).unwrap_or(i32::MAX),
        data_type: data_type(s.datatype) as i32,
        entry_type: entry_type(s.kind) as i32,
        description: s.description.clone(),
        unit: s.unit.clone().unwrap_or_default(),
        allowed_values: allowed,
        min: s.min.as_ref().map(|v| to_v2(s, v)),
        max: s.max.as_ref().map(|v| to_v2(s, v)),
        ..Default::default()
    }
}

/// Values of signal `s` as the v2 array value of its type (for `allowed_values`).
fn v2_array(s: &Signal, values: &[Value]) -> v2::Value {
    use v2::value::TypedValue as T;
    let scalars: Vec<T> = values.iter().filter_map(|v| to_v2(s, v).typed_value).collect();
    macro_rules! array {
        ($variant:ident, $array:ident, $scalar:ident) => {
            T::$variant(v2::$array { values: scalars.into_iter().filter_map(|t| if let T::$scalar(x) = t { Some(x) } else { None }).collect() })
        };
    }
    let typed = match scalars.first() {
        Some(T::Bool(_)) => array!(BoolArray, BoolArray, Bool),
        Some(T::Int32(_)) => array!(Int32Array, Int32Array, Int32),
        Some(T::Int64(_)) => array!(Int64Array, Int64Array, Int64),
        Some(T::Uint32(_)) => array!(Uint32Array, Uint32Array, Uint32),
        Some(T::Uint64(_)) => array!(Uint64Array, Uint64Array, Uint64),
        Some(T::Float(_)) => array!(FloatArray, FloatArray, Float),
        Some(T::Double(_)) => array!(DoubleArray, DoubleArray, Double),
        _ => array!(StringArray, StringArray, String),
    };
    v2::Value { typed_value: Some(typed) }
}

/// A signal's v1 metadata: datatype, entry type, description, unit and value restriction.
pub fn v1_metadata(s: &Signal) -> v1::Metadata {
    use v1::metadata::EntrySpecific;
    let entry_specific = match s.kind {
        SignalKind::Sensor => EntrySpecific::Sensor(v1::Sensor {}),
        SignalKind::Actuator => EntrySpecific::Actuator(v1::Actuator {}),
        SignalKind::Attribute => EntrySpecific::Attribute(v1::Attribute {}),
    };
    v1::Metadata {
        data_type: data_type(s.datatype) as i32,
        entry_type: entry_type(s.kind) as i32,
        description: Some(s.description.clone()),
        unit: s.unit.clone(),
        value_restriction: v1_restriction(s),
        entry_specific: Some(entry_specific),
        ..Default::default()
    }
}

fn v1_restriction(s: &Signal) -> Option<v1::ValueRestriction> {
    use v1::value_restriction::Type;
    if s.min.is_none() && s.max.is_none() && s.allowed.is_empty() {
        return None;
    }
    let int = |v: &Value| if let Value::Int(i) = v { Some(*i) } else { None };
    let uint = |v: &Value| if let Value::UInt(u) = v { Some(*u) } else { None };
    let string = |v: &Value| if let Value::String(x) = v { Some(x.clone()) } else { None };
    let restriction = match s.datatype {
        DataType::Int(_) => Type::Signed(v1::ValueRestrictionInt { min: s.min.as_ref().and_then(int), max: s.max.as_ref().and_then(int), allowed_values: s.allowed.iter().filter_map(int).collect() }),
        DataType::UInt(_) => Type::Unsigned(v1::ValueRestrictionUint { min: s.min.as_ref().and_then(uint), max: s.max.as_ref().and_then(uint), allowed_values: s.allowed.iter().filter_map(uint).collect() }),
        DataType::Float | DataType::Double => Type::FloatingPoint(v1::ValueRestrictionFloat { min: s.min.as_ref().and_then(Value::as_f64), max: s.max.as_ref().and_then(Value::as_f64), allowed_values: s.allowed.iter().filter_map(Value::as_f64).collect() }),
        DataType::String => Type::String(v1::ValueRestrictionString { allowed_values: s.allowed.iter().filter_map(string).collect() }),
        DataType::Boolean => return None,
    };
    Some(v1::ValueRestriction { r#type: Some(restriction) })
}

/// Rebuild a catalog from v2 metadata (what a remote store learns from `ListMetadata`): the
/// metadata is written back as a VSS JSON tree and read by [`Catalog::from_json`], so the
/// catalog's own rules (ids in path order, bounds of the datatype) apply unchanged.
pub fn catalog_from_metadata(list: &[v2::Metadata]) -> anyhow::Result<Catalog> {
    let mut root = serde_json::Map::new();
    for m in list {
        insert_leaf(&mut root, &m.path, metadata_json(m)?)?;
    }
    Catalog::from_json(&serde_json::Value::Object(root).to_string())
}

fn metadata_json(m: &v2::Metadata) -> anyhow::Result<serde_json::Value> {
    let dt = v2::DataType::try_from(m.data_type).ok().and_then(vss_datatype_name);
    let dt = dt.ok_or_else(|| anyhow::anyhow!("{}: data type {} is not supported (scalars only)", m.path, m.data_type))?;
    let kind = match v2::EntryType::try_from(m.entry_type) {
        Ok(v2::EntryType::Sensor) => "sensor",
        Ok(v2::EntryType::Actuator) => "actuator",
        Ok(v2::EntryType::Attribute) => "attribute",
        _ => anyhow::bail!("{}: entry type {} is not sensor, actuator or attribute", m.path, m.entry_type),
    };
    let mut leaf = serde_json::json!({"type": kind, "datatype": dt, "description": m.description});
    let put = |leaf: &mut serde_json::Value, key: &str, v: serde_json::Value| {
        if let Some(o) = leaf.as_object_mut() {
            o.insert(key.to_string(), v);
        }
    };
    if !m.unit.is_empty() {
        put(&mut leaf, "unit", m.unit.clone().into());
    }
    for (key, v) in [("min", &m.min), ("max", &m.max)] {
        if let Some(j) = v.as_ref().and_then(scalar_json) {
            put(&mut leaf, key, j);
        }
    }
    if let Some(list) = m.allowed_values.as_ref().and_then(array_json) {
        put(&mut leaf, "allowed", list);
    }
    Ok(leaf)
}

fn insert_leaf(root: &mut serde_json::Map<String, serde_json::Value>, path: &str, leaf: serde_json::Value) -> anyhow::Result<()> {
    let parts: Vec<&str> = path.split('.').collect();
    let Some((name, branches)) = parts.split_last() else { anyhow::bail!("an empty path") };
    anyhow::ensure!(!branches.is_empty() && parts.iter().all(|p| !p.is_empty()), "`{path}` is not a signal path");
    let mut level = root;
    for b in branches {
        let node = level.entry(b.to_string()).or_insert_with(|| serde_json::json!({"type": "branch", "children": {}}));
        level = node.get_mut("children").and_then(|c| c.as_object_mut()).ok_or_else(|| anyhow::anyhow!("`{path}`: `{b}` is both a signal and a branch"))?;
    }
    anyhow::ensure!(level.insert(name.to_string(), leaf).is_none(), "`{path}` is listed twice");
    Ok(())
}

fn scalar_json(v: &v2::Value) -> Option<serde_json::Value> {
    use v2::value::TypedValue as T;
    Some(match v.typed_value.as_ref()? {
        T::String(x) => x.clone().into(),
        T::Bool(b) => (*b).into(),
        T::Int32(i) => (*i).into(),
        T::Int64(i) => (*i).into(),
        T::Uint32(u) => (*u).into(),
        T::Uint64(u) => (*u).into(),
        T::Float(f) => serde_json::Number::from_f64(float_from_f32(*f))?.into(),
        T::Double(f) => serde_json::Number::from_f64(*f)?.into(),
        _ => return None,
    })
}

fn array_json(v: &v2::Value) -> Option<serde_json::Value> {
    use v2::value::TypedValue as T;
    let float = |f: f64| serde_json::Number::from_f64(f).map(serde_json::Value::from);
    let list: Vec<serde_json::Value> = match v.typed_value.as_ref()? {
        T::StringArray(a) => a.values.iter().cloned().map(Into::into).collect(),
        T::BoolArray(a) => a.values.iter().map(|&b| b.into()).collect(),
        T::Int32Array(a) => a.values.iter().map(|&i| i.into()).collect(),
        T::Int64Array(a) => a.values.iter().map(|&i| i.into()).collect(),
        T::Uint32Array(a) => a.values.iter().map(|&u| u.into()).collect(),
        T::Uint64Array(a) => a.values.iter().map(|&u| u.into()).collect(),
        T::FloatArray(a) => a.values.iter().filter_map(|&f| float(float_from_f32(f))).collect(),
        T::DoubleArray(a) => a.values.iter().filter_map(|&f| float(f)).collect(),
        _ => return None,
    };
    (!list.is_empty()).then_some(serde_json::Value::Array(list))
}

#[cfg(test)]
mod tests;
