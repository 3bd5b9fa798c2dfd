//! MQTT topic and filter rules, shared by loopback delivery and the MQTT backend so that a
//! co-located subscriber sees exactly what it would see through a broker.

/// Does the MQTT topic `topic` match the subscription `filter`? Defined once, with the endpoint
/// syntax, in the manifest crate.
pub use silverline_manifest::topic_matches;

/// Is `topic` a valid topic to publish on (non-empty, no wildcards, no NUL)?
pub fn validate_topic(topic: &str) -> Result<(), String> {
    if topic.is_empty() {
        return Err("an empty topic".into());
    }
    if topic.contains(['+', '#', '\0']) {
        return Err(format!("`{topic}` contains a wildcard or NUL"));
    }
    Ok(())
}

/// Is `filter` a valid subscription filter (`#` only as the last level, `+` only as a whole level)?
pub fn validate_filter(filter: &str) -> Result<(), String> {
    if filter.is_empty() || filter.contains('\0') {
        return Err("an empty filter or one containing NUL".into());
    }
    let levels: Vec<&str> = filter.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        let last = i + 1 == levels.len();
        if level.contains('#') && (*level != "#" || !last) {
            return Err(format!("`{filter}`: `#` must be the whole last level"));
        }
        if level.contains('+') && *level != "+" {
            return Err(format!("`{filter}`: `+` must be a whole level"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_mqtt() {
        assert!(topic_matches("a/b", "a/b"));
        assert!(!topic_matches("a/b", "a/c"));
        assert!(topic_matches("a/+", "a/c"));
        assert!(!topic_matches("a/+", "a/c/d"));
        assert!(topic_matches("a/#", "a/c/d"));
        assert!(topic_matches("a/#", "a"));
        assert!(topic_matches("#", "x/y"));
        assert!(topic_matches("+/+/z", "x/y/z"));
        assert!(!topic_matches("a/b/c", "a/b"));
    }

    #[test]
    fn filters_are_checked() {
        assert!(validate_filter("a/#").is_ok());
        assert!(validate_filter("a/#/b").is_err());
        assert!(validate_filter("a/b+").is_err());
        assert!(validate_topic("a/+").is_err());
        assert!(validate_topic("a/b").is_ok());
    }
}
