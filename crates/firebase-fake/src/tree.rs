//! The stored JSON tree in Firebase's data model: no nulls, no empty objects, arrays kept as
//! integer-keyed objects, numbers as doubles; node access by path, the output form, ETags.

use base64::Engine as _;
use serde_json::{Map, Number, Value};
use sha1::{Digest, Sha1};

/// Largest integer a double holds exactly.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_992.0;

/// The ETag Firebase reports for an empty location.
pub(crate) const NULL_ETAG: &str = "null_etag";

/// Turns a written value into its stored form: nulls and empty objects dropped (`Null` means
/// "nothing here"), arrays become objects keyed `"0"`, `"1"`, …, numbers become doubles.
pub(crate) fn normalize(value: Value) -> Value {
    match value {
        Value::Number(n) => number(n.as_f64().unwrap_or(0.0)),
        Value::Array(items) => collect(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v)),
        ),
        Value::Object(map) => collect(map),
        other => other,
    }
}

fn collect(children: impl IntoIterator<Item = (String, Value)>) -> Value {
    let map: Map<String, Value> = children
        .into_iter()
        .map(|(k, v)| (k, normalize(v)))
        .filter(|(_, v)| !v.is_null())
        .collect();
    if map.is_empty() {
        Value::Null
    } else {
        Value::Object(map)
    }
}

/// A double as JSON: integral values within the exact range print without a fraction (as
/// JavaScript prints them); NaN and infinities cannot occur in JSON and become null.
pub(crate) fn number(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() <= MAX_SAFE_INTEGER {
        #[allow(clippy::cast_possible_truncation)]
        let int = f as i64;
        Value::from(int)
    } else {
        Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

/// The node at `path`, if there is one.
pub(crate) fn get<'a>(root: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut node = root;
    for segment in path {
        node = node.as_object()?.get(segment)?;
    }
    (!node.is_null()).then_some(node)
}

/// Writes an already normalized value at `path` (`Null` deletes), creating parents (a
/// primitive parent is replaced by an object) and pruning parents left empty.
pub(crate) fn set(node: &mut Value, path: &[String], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        *node = value;
        return;
    };
    if value.is_null() {
        if let Value::Object(map) = node {
            if let Some(child) = map.get_mut(first) {
                set(child, rest, Value::Null);
                if child.is_null() {
                    map.remove(first);
                }
            }
            if map.is_empty() {
                *node = Value::Null;
            }
        }
        return;
    }
    if !node.is_object() {
        *node = Value::Object(Map::new());
    }
    if let Value::Object(map) = node {
        let child = map.entry(first.clone()).or_insert(Value::Null);
        set(child, rest, value);
    }
}

/// The stored form as a client reads it: objects whose keys are all array indices, and
/// dense enough (Firebase's heuristic: the largest index is below twice the number of keys),
/// come back as arrays with `null` in the holes.
pub(crate) fn output(value: Option<&Value>) -> Value {
    let Some(value) = value else {
        return Value::Null;
    };
    let Value::Object(map) = value else {
        return value.clone();
    };
    let indices: Option<Vec<usize>> = map.keys().map(|k| array_index(k)).collect();
    if let Some(max) = indices.and_then(|i| i.into_iter().max())
        && max < 2 * map.len()
    {
        let mut items = vec![Value::Null; max + 1];
        for (key, child) in map {
            if let Some(slot) = array_index(key).and_then(|i| items.get_mut(i)) {
                *slot = output(Some(child));
            }
        }
        return Value::Array(items);
    }
    Value::Object(
        map.iter()
            .map(|(k, v)| (k.clone(), output(Some(v))))
            .collect(),
    )
}

/// `Some(i)` for a canonical non-negative integer key ("0", "17", not "07").
fn array_index(key: &str) -> Option<usize> {
    if key.is_empty() || (key.len() > 1 && key.starts_with('0')) || key.len() > 9 {
        return None;
    }
    if key.bytes().all(|b| b.is_ascii_digit()) {
        key.parse().ok()
    } else {
        None
    }
}

/// `shallow=true`: object children become `true`, primitives stay as they are.
pub(crate) fn shallow(value: Option<&Value>) -> Value {
    match value {
        Some(Value::Object(map)) => {
            Value::Object(map.keys().map(|k| (k.clone(), Value::Bool(true))).collect())
        }
        Some(other) => other.clone(),
        None => Value::Null,
    }
}

/// Depth of a value: 0 for a primitive, 1 + the deepest child for an object or array.
pub(crate) fn depth(value: &Value) -> usize {
    match value {
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// The ETag of a location: base64 of the SHA-1 of its canonical (key-sorted) JSON, or
/// `null_etag` when it is empty.
pub(crate) fn etag(value: Option<&Value>) -> String {
    let Some(value) = value else {
        return NULL_ETAG.to_owned();
    };
    let mut text = String::new();
    canonical(value, &mut text);
    base64::engine::general_purpose::STANDARD.encode(Sha1::digest(text.as_bytes()))
}

fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                if let Some(child) = map.get(key) {
                    canonical(child, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> Vec<String> {
        crate::path::split(s)
    }

    #[test]
    fn nulls_and_empty_objects_are_not_stored() {
        let v = normalize(
            json!({"a": null, "b": {}, "c": {"d": {"e": null}}, "f": 1.0, "g": [1, null, 3]}),
        );
        assert_eq!(v, json!({"f": 1, "g": {"0": 1, "2": 3}}));
        assert_eq!(output(Some(&v)), json!({"f": 1, "g": [1, null, 3]}));
        assert_eq!(normalize(json!(1.5)), json!(1.5));
        assert_eq!(
            normalize(json!(9_007_199_254_740_993_u64)),
            json!(9_007_199_254_740_992_u64)
        );
    }

    #[test]
    fn deleting_prunes_empty_parents() {
        let mut root = Value::Null;
        set(&mut root, &p("a/b/c"), json!(1));
        set(&mut root, &p("a/x"), json!(2));
        set(&mut root, &p("a/b/c"), Value::Null);
        assert_eq!(root, json!({"a": {"x": 2}}));
        set(&mut root, &p("a/x"), Value::Null);
        assert_eq!(root, Value::Null);
        set(&mut root, &p("s"), json!("text"));
        set(&mut root, &p("s/t"), json!(true));
        assert_eq!(root, json!({"s": {"t": true}}));
        assert_eq!(get(&root, &p("s/t/u")), None);
    }

    #[test]
    fn sparse_integer_keys_stay_objects() {
        let v = json!({"1": "a", "7": "b"});
        assert_eq!(output(Some(&v)), v);
        assert_eq!(
            output(Some(&json!({"0": "a", "01": "b"}))),
            json!({"0": "a", "01": "b"})
        );
    }

    #[test]
    fn etags_ignore_key_order() {
        let a = json!({"x": 1, "y": {"b": 2, "a": 1}});
        let b = json!({"y": {"a": 1, "b": 2}, "x": 1});
        assert_eq!(etag(Some(&a)), etag(Some(&b)));
        assert_ne!(etag(Some(&a)), etag(Some(&json!(1))));
        assert_eq!(etag(None), NULL_ETAG);
    }
}
