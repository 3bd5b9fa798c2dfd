use super::*;

const TREE: &str = r#"{"Vehicle": {"type": "branch", "children": {
    "I8": {"type": "sensor", "datatype": "int8", "min": -100, "max": 100, "unit": "percent", "description": "d"},
    "I64": {"type": "sensor", "datatype": "int64"},
    "U16": {"type": "actuator", "datatype": "uint16", "allowed": [1, 2, 3]},
    "U64": {"type": "attribute", "datatype": "uint64"},
    "F": {"type": "actuator", "datatype": "float", "min": 0, "max": 100},
    "D": {"type": "sensor", "datatype": "double"},
    "B": {"type": "sensor", "datatype": "boolean"},
    "S": {"type": "actuator", "datatype": "string", "allowed": ["OPEN", "CLOSE"]}}}}"#;

fn catalog() -> Catalog {
    Catalog::from_json(TREE).unwrap()
}

fn sig<'a>(c: &'a Catalog, name: &str) -> &'a Signal {
    c.get(&format!("Vehicle.{name}")).unwrap()
}

#[test]
fn small_integers_travel_as_32_bits_and_wide_ones_as_64() {
    use v2::value::TypedValue as T;
    let c = catalog();
    let cases = [
        ("I8", Value::Int(-100), T::Int32(-100)),
        ("I64", Value::Int(i64::MIN), T::Int64(i64::MIN)),
        ("U16", Value::UInt(3), T::Uint32(3)),
        ("U64", Value::UInt(u64::MAX), T::Uint64(u64::MAX)),
        ("F", Value::Float(0.5), T::Float(0.5)),
        ("D", Value::Float(0.1), T::Double(0.1)),
        ("B", Value::Bool(true), T::Bool(true)),
        ("S", Value::String("OPEN".into()), T::String("OPEN".into())),
    ];
    for (name, v, wire) in cases {
        let s = sig(&c, name);
        let on_wire = to_v2(s, &v);
        assert_eq!(on_wire.typed_value.as_ref(), Some(&wire), "{name}");
        assert_eq!(from_v2(&s.path, Some(&on_wire)), Ok(v.clone()), "{name} back from v2");
        let dp = v1::Datapoint { timestamp: None, value: Some(to_v1(s, &v)) };
        assert_eq!(from_v1(&s.path, Some(&dp)), Ok(v), "{name} back from v1");
    }
}

#[test]
fn a_float_comes_back_as_the_number_that_was_sent() {
    let v = v2::Value { typed_value: Some(v2::value::TypedValue::Float(0.1)) };
    assert_eq!(from_v2("x", Some(&v)), Ok(Value::Float(0.1)));
}

#[test]
fn the_wire_type_is_checked_by_the_catalog_not_guessed() {
    let c = catalog();
    let s = sig(&c, "I8");
    let as_uint = from_v2(&s.path, Some(&v2::Value { typed_value: Some(v2::value::TypedValue::Uint32(5)) })).unwrap();
    assert!(matches!(s.check(&as_uint), Err(VssError::WrongType { .. })));
    let too_big = from_v2(&s.path, Some(&v2::Value { typed_value: Some(v2::value::TypedValue::Int32(101)) })).unwrap();
    let e = s.check(&too_big).unwrap_err();
    let st = status(&e);
    assert_eq!(st.code(), tonic::Code::InvalidArgument);
    assert!(st.message().contains("Vehicle.I8") && st.message().contains("100"), "{}", st.message());
    assert_eq!(v1_error(&e).code, 400);
    assert_eq!(status(&VssError::UnknownSignal("x".into())).code(), tonic::Code::NotFound);
}

#[test]
fn arrays_and_missing_values_are_refused_clearly() {
    let arr = v2::Value { typed_value: Some(v2::value::TypedValue::StringArray(v2::StringArray { values: vec!["a".into()] })) };
    let e = from_v2("Vehicle.S", Some(&arr)).unwrap_err();
    assert!(e.to_string().contains("array values are not supported"), "{e}");
    assert_eq!(from_v2("Vehicle.S", None), Err(WireError::NoValue("Vehicle.S".into())));
    assert_eq!(from_v1("Vehicle.S", Some(&v1::Datapoint::default())), Err(WireError::NoValue("Vehicle.S".into())));
    assert_eq!(Status::from(e).code(), tonic::Code::InvalidArgument);
}

#[test]
fn v1_and_v2_enums_agree_on_every_number() {
    for n in 0..=32 {
        assert_eq!(v1::DataType::try_from(n).map(|d| d.as_str_name().to_string()).ok(), v2::DataType::try_from(n).map(|d| d.as_str_name().to_string()).ok(), "{n}");
    }
    for n in 0..=3 {
        assert_eq!(v1::EntryType::try_from(n).map(|d| d.as_str_name().to_string()).ok(), v2::EntryType::try_from(n).map(|d| d.as_str_name().to_string()).ok());
    }
    for name in ["boolean", "string", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float", "double"] {
        let dt = DataType::parse(name).unwrap();
        assert_eq!(vss_datatype_name(data_type(dt)), Some(name));
    }
    assert_eq!(vss_datatype_name(v2::DataType::StringArray), None);
}

#[test]
fn metadata_carries_type_kind_and_bounds() {
    let c = catalog();
    let m = v2_metadata(sig(&c, "I8"));
    assert_eq!((m.data_type, m.entry_type, m.unit.as_str()), (v2::DataType::Int8 as i32, v2::EntryType::Sensor as i32, "percent"));
    assert_eq!(m.min.and_then(|v| v.typed_value), Some(v2::value::TypedValue::Int32(-100)));
    let m = v2_metadata(sig(&c, "S"));
    assert_eq!(m.allowed_values.and_then(|v| v.typed_value), Some(v2::value::TypedValue::StringArray(v2::StringArray { values: vec!["OPEN".into(), "CLOSE".into()] })));
    let m1 = v1_metadata(sig(&c, "U16"));
    assert_eq!(m1.data_type, v1::DataType::Uint16 as i32);
    assert!(matches!(m1.entry_specific, Some(v1::metadata::EntrySpecific::Actuator(_))));
    let Some(v1::ValueRestriction { r#type: Some(v1::value_restriction::Type::Unsigned(r)) }) = m1.value_restriction else { panic!("no unsigned restriction") };
    assert_eq!(r.allowed_values, [1, 2, 3]);
}

#[test]
fn a_catalog_survives_the_trip_through_list_metadata() {
    let c = catalog();
    let listed: Vec<_> = c.signals().iter().map(v2_metadata).collect();
    let back = catalog_from_metadata(&listed).unwrap();
    assert_eq!(back.signals(), c.signals());
}

#[test]
fn a_listed_array_signal_is_refused_with_its_path() {
    let m = v2::Metadata { path: "Vehicle.A".into(), data_type: v2::DataType::StringArray as i32, entry_type: v2::EntryType::Sensor as i32, ..Default::default() };
    let e = catalog_from_metadata(&[m]).unwrap_err();
    assert!(e.to_string().contains("Vehicle.A"), "{e}");
}

#[test]
fn timestamps_round_trip_including_before_1970() {
    for ns in [0, 1_700_000_000_123_456_789, -1] {
        assert_eq!(unix_ns(&timestamp(ns)), ns);
    }
}
