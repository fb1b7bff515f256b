//! Server values in written data: `{".sv": "timestamp"}` and `{".sv": {"increment": n}}`.

use serde_json::{Map, Value};

use crate::path::validate_key;
use crate::tree;

/// Replaces the server-value placeholders in `value` and checks every key of the result.
/// `current` is what is stored at the same location before the write (an increment adds to
/// it; a missing or non-numeric value counts as 0); `now_ms` is the commit time.
pub(crate) fn resolve(value: Value, current: Option<&Value>, now_ms: u64) -> Result<Value, String> {
    match value {
        Value::Object(map) if map.contains_key(".sv") => server_value(&map, current, now_ms),
        Value::Object(map) => {
            let mut resolved = Map::new();
            for (key, child) in map {
                validate_key(&key)?;
                let current_child = current.and_then(Value::as_object).and_then(|m| m.get(&key));
                let child = resolve(child, current_child, now_ms)?;
                resolved.insert(key, child);
            }
            Ok(Value::Object(resolved))
        }
        Value::Array(items) => {
            let mut resolved = Vec::with_capacity(items.len());
            for (i, child) in items.into_iter().enumerate() {
                let current_child = current
                    .and_then(Value::as_object)
                    .and_then(|m| m.get(&i.to_string()));
                resolved.push(resolve(child, current_child, now_ms)?);
            }
            Ok(Value::Array(resolved))
        }
        other => Ok(other),
    }
}

fn server_value(
    map: &Map<String, Value>,
    current: Option<&Value>,
    now_ms: u64,
) -> Result<Value, String> {
    if map.len() != 1 {
        return Err(
            "Invalid data; a server value (.sv) must be the only key of its object".to_owned(),
        );
    }
    match map.get(".sv") {
        Some(Value::String(name)) if name == "timestamp" => Ok(Value::from(now_ms)),
        Some(Value::Object(op)) if op.len() == 1 => match op.get("increment") {
            Some(Value::Number(delta)) => Ok(increment(current, delta)),
            _ => Err("Invalid data; the increment server value needs a number".to_owned()),
        },
        _ => Err("Invalid data; unknown server value (.sv)".to_owned()),
    }
}

fn increment(current: Option<&Value>, delta: &serde_json::Number) -> Value {
    let base = match current {
        Some(Value::Number(n)) => n.clone(),
        _ => serde_json::Number::from(0),
    };
    if let (Some(a), Some(b)) = (base.as_i64(), delta.as_i64())
        && let Some(sum) = a.checked_add(b)
    {
        #[allow(clippy::cast_precision_loss)]
        return tree::number(sum as f64);
    }
    tree::number(base.as_f64().unwrap_or(0.0) + delta.as_f64().unwrap_or(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn placeholders_are_replaced() {
        let v = resolve(
            json!({"at": {".sv": "timestamp"}, "n": {".sv": {"increment": 2}}}),
            Some(&json!({"n": 40})),
            7,
        );
        assert_eq!(v, Ok(json!({"at": 7, "n": 42})));
        let v = resolve(json!({".sv": {"increment": 1.5}}), Some(&json!("text")), 7);
        assert_eq!(v, Ok(json!(1.5)));
    }

    #[test]
    fn unknown_server_values_and_bad_keys_are_refused() {
        assert!(resolve(json!({".sv": "now"}), None, 0).is_err());
        assert!(resolve(json!({".sv": {"increment": "1"}}), None, 0).is_err());
        assert!(resolve(json!({".sv": "timestamp", "x": 1}), None, 0).is_err());
        assert!(resolve(json!({"a.b": 1}), None, 0).is_err());
        assert!(resolve(json!({"ok": {"$x": 1}}), None, 0).is_err());
    }
}
