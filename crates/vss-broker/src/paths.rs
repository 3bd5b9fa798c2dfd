//! Which signals a Kuksa path names. A leaf names itself; a branch (`Vehicle.Cabin`) names every
//! signal below it; `*` matches one path segment and `**` any number, so
//! `Vehicle.Cabin.Sunroof.*` is the sunroof's direct signals and `""` or `**` is everything.

use silverline_vss::{Catalog, Signal};

/// The signals `pattern` names, in path order (empty: none).
pub fn select<'a>(catalog: &'a Catalog, pattern: &str) -> Vec<&'a Signal> {
    if pattern.is_empty() {
        return catalog.signals().iter().collect();
    }
    if !pattern.contains('*') {
        if let Some(s) = catalog.get(pattern) {
            return vec![s];
        }
        let below = format!("{pattern}.");
        return catalog.signals().iter().filter(|s| s.path.starts_with(&below)).collect();
    }
    let pat: Vec<&str> = pattern.split('.').collect();
    catalog.signals().iter().filter(|s| matches(&pat, &s.path.split('.').collect::<Vec<_>>())).collect()
}

fn matches(pat: &[&str], path: &[&str]) -> bool {
    match pat.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| matches(rest, &path[skip..])),
        Some((&p, rest)) => path.split_first().is_some_and(|(&seg, tail)| (p == "*" || p == seg) && matches(rest, tail)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(c: &Catalog, p: &str) -> Vec<String> {
        select(c, p).into_iter().map(|s| s.path.clone()).collect()
    }

    #[test]
    fn leaves_branches_and_wildcards() {
        let c = Catalog::from_json(r#"{"Vehicle": {"type": "branch", "children": {
            "Speed": {"type": "sensor", "datatype": "float"},
            "Cabin": {"type": "branch", "children": {"Sunroof": {"type": "branch", "children": {
                "Position": {"type": "sensor", "datatype": "int8"},
                "Shade": {"type": "branch", "children": {"Position": {"type": "actuator", "datatype": "uint8"}}}}}}}}}}"#)
        .unwrap();
        assert_eq!(paths(&c, "Vehicle.Speed"), ["Vehicle.Speed"]);
        assert_eq!(paths(&c, "Vehicle.Cabin.Sunroof"), ["Vehicle.Cabin.Sunroof.Position", "Vehicle.Cabin.Sunroof.Shade.Position"]);
        assert_eq!(paths(&c, "Vehicle.Cabin.Sunroof.*"), ["Vehicle.Cabin.Sunroof.Position"]);
        assert_eq!(paths(&c, "Vehicle.**.Position").len(), 2);
        assert_eq!(paths(&c, "**").len(), 3);
        assert_eq!(paths(&c, "").len(), 3);
        assert!(paths(&c, "Vehicle.Cab").is_empty());
        assert!(paths(&c, "Vehicle.Speed.X").is_empty());
    }
}
