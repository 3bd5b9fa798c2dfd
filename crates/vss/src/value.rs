//! VSS data types and values, and the checks a write must pass.

use std::fmt;

/// A VSS `datatype` (scalars; arrays are not supported yet and are refused by the catalog).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    /// `boolean`
    Boolean,
    /// `string`
    String,
    /// `int8` .. `int64`: signed integers of that many bits.
    Int(u8),
    /// `uint8` .. `uint64`: unsigned integers of that many bits.
    UInt(u8),
    /// `float`
    Float,
    /// `double`
    Double,
}

impl DataType {
    /// Parse a VSS datatype name.
    pub fn parse(name: &str) -> Option<DataType> {
        Some(match name {
            "boolean" => DataType::Boolean,
            "string" => DataType::String,
            "int8" => DataType::Int(8),
            "int16" => DataType::Int(16),
            "int32" => DataType::Int(32),
            "int64" => DataType::Int(64),
            "uint8" => DataType::UInt(8),
            "uint16" => DataType::UInt(16),
            "uint32" => DataType::UInt(32),
            "uint64" => DataType::UInt(64),
            "float" => DataType::Float,
            "double" => DataType::Double,
            _ => return None,
        })
    }

    /// Its VSS name.
    pub fn name(self) -> &'static str {
        match self {
            DataType::Boolean => "boolean",
            DataType::String => "string",
            DataType::Int(8) => "int8",
            DataType::Int(16) => "int16",
            DataType::Int(32) => "int32",
            DataType::Int(_) => "int64",
            DataType::UInt(8) => "uint8",
            DataType::UInt(16) => "uint16",
            DataType::UInt(32) => "uint32",
            DataType::UInt(_) => "uint64",
            DataType::Float => "float",
            DataType::Double => "double",
        }
    }

    /// The values an integer type's bits hold (`None` for other types).
    pub fn int_range(self) -> Option<(i128, i128)> {
        match self {
            DataType::Int(bits) => Some((-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)),
            DataType::UInt(bits) => Some((0, (1i128 << bits) - 1)),
            _ => None,
        }
    }

    /// Is `v` of this type (integers within the type's bits)?
    pub fn admits(self, v: &Value) -> bool {
        match (self, v) {
            (DataType::Boolean, Value::Bool(_)) | (DataType::String, Value::String(_)) => true,
            (DataType::Int(bits), Value::Int(i)) => bits >= 64 || (*i >= -(1i64 << (bits - 1)) && *i < (1i64 << (bits - 1))),
            (DataType::UInt(bits), Value::UInt(u)) => bits >= 64 || *u < (1u64 << bits),
            (DataType::Float | DataType::Double, Value::Float(_)) => true,
            _ => false,
        }
    }
}

/// A signal value. Integers keep their sign class; `float` and `double` are both `Float`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A boolean.
    Bool(bool),
    /// A string.
    String(String),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A floating-point number.
    Float(f64),
}

impl Value {
    /// An integer's value, of either sign class.
    pub fn as_i128(&self) -> Option<i128> {
        match *self {
            Value::Int(i) => Some(i.into()),
            Value::UInt(u) => Some(u.into()),
            _ => None,
        }
    }

    /// The value as a number, if it is one.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Int(i) => Some(i as f64),
            Value::UInt(u) => Some(u as f64),
            Value::Float(f) => Some(f),
            _ => None,
        }
    }

    /// Read a catalog's JSON value (`min`, `max`, `allowed`, `default`) as a value of `ty`.
    pub fn from_json(ty: DataType, j: &serde_json::Value) -> Option<Value> {
        let v = match ty {
            DataType::Boolean => Value::Bool(j.as_bool()?),
            DataType::String => Value::String(j.as_str()?.to_string()),
            DataType::Int(_) => Value::Int(j.as_i64()?),
            DataType::UInt(_) => Value::UInt(j.as_u64()?),
            DataType::Float | DataType::Double => Value::Float(j.as_f64()?),
        };
        ty.admits(&v).then_some(v)
    }

    /// The value as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Bool(b) => (*b).into(),
            Value::String(s) => s.clone().into(),
            Value::Int(i) => (*i).into(),
            Value::UInt(u) => (*u).into(),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, serde_json::Value::Number),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::String(s) => write!(f, "{s:?}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::UInt(u) => write!(f, "{u}"),
            Value::Float(x) => write!(f, "{x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_types_admit_only_their_range() {
        assert!(DataType::Int(8).admits(&Value::Int(-128)) && DataType::Int(8).admits(&Value::Int(127)));
        assert!(!DataType::Int(8).admits(&Value::Int(128)) && !DataType::Int(8).admits(&Value::Int(-129)));
        assert!(DataType::UInt(8).admits(&Value::UInt(255)) && !DataType::UInt(8).admits(&Value::UInt(256)));
        assert!(DataType::Int(64).admits(&Value::Int(i64::MIN)) && DataType::UInt(64).admits(&Value::UInt(u64::MAX)));
        assert!(!DataType::Int(8).admits(&Value::Float(1.0)) && !DataType::Float.admits(&Value::Int(1)));
        assert!(!DataType::Boolean.admits(&Value::String("true".into())));
    }

    #[test]
    fn every_datatype_name_round_trips() {
        for n in ["boolean", "string", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float", "double"] {
            assert_eq!(DataType::parse(n).map(DataType::name), Some(n));
        }
        assert_eq!(DataType::parse("int8[]"), None);
    }
}
