//! GET, PUT, POST, PATCH and DELETE on the tree, with server values and ETag preconditions.

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value, json};

use crate::database::Options;
use crate::path;
use crate::reply::Reply;
use crate::server_values;
use crate::state::State;
use crate::tree;

const BAD_JSON: &str = "Invalid data; couldn't parse JSON object, array, or value.";

type Handled = Result<Reply, Reply>;

/// 200 with `value`, or 204 with nothing under `print=silent`.
fn ok(options: &Options, value: &Value) -> Reply {
    if options.silent {
        Reply::empty(204)
    } else {
        Reply::json(200, value, options.pretty)
    }
}

fn bad(message: &str) -> Reply {
    Reply::error(400, message)
}

/// GET: the value (or `null`), `shallow`, ETag and `if-none-match` (304).
pub(crate) fn get(state: &State, path: &[String], options: &Options) -> Handled {
    let current = tree::get(&state.tree, path);
    let etag = tree::etag(current);
    if options.if_none_match.as_deref() == Some(etag.as_str()) {
        return Ok(Reply::empty(304).with_etag(etag));
    }
    let value = if options.shallow {
        tree::shallow(current)
    } else {
        tree::output(current)
    };
    let reply = ok(options, &value);
    Ok(if options.want_etag || options.if_none_match.is_some() {
        reply.with_etag(etag)
    } else {
        reply
    })
}

/// PUT: replaces the node, echoes what was written.
pub(crate) fn put(state: &mut State, path: &[String], options: &Options, body: &[u8]) -> Handled {
    precondition(state, path, options)?;
    let value = parse(body)?;
    let value = prepare(state, path, value)?;
    tree::set(&mut state.tree, path, value.clone());
    Ok(with_new_etag(
        state,
        path,
        options,
        ok(options, &tree::output(Some(&value))),
    ))
}

/// POST: stores the value under a new push id, answers `{"name": id}`.
pub(crate) fn post(state: &mut State, path: &[String], options: &Options, body: &[u8]) -> Handled {
    let value = parse(body)?;
    let id = state.push_ids.next(state.now_ms());
    let mut child = path.to_vec();
    child.push(id.clone());
    let value = prepare(state, &child, value)?;
    tree::set(&mut state.tree, &child, value);
    Ok(ok(options, &json!({ "name": id })))
}

/// PATCH: each key is a relative path that is set (not merged); all checked, then applied
/// together. Echoes the body with server values resolved.
pub(crate) fn patch(state: &mut State, path: &[String], options: &Options, body: &[u8]) -> Handled {
    // One parse for a good body; a bad one is parsed again to say what is wrong with it.
    let Ok(Entries(entries)) = serde_json::from_slice::<Entries>(body) else {
        parse(body)?;
        return Err(bad(
            "Invalid data; PATCH needs a JSON object of paths to values.",
        ));
    };
    if entries.is_empty() {
        return Err(bad("Invalid data; PATCH needs at least one path."));
    }
    let mut writes: Vec<(String, Vec<String>, Value)> = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        let relative = path::parse_relative(&key).map_err(|e| bad(&e))?;
        let mut full = path.to_vec();
        full.extend(relative);
        let value = prepare(state, &full, value)?;
        writes.push((key, full, value));
    }
    // Two paths overlap when one is under the other. Sorted, a path is followed at once by
    // the paths under it, so comparing neighbours finds every overlap (a batch of 500
    // changes is 499 comparisons, not 125,000).
    let mut order: Vec<usize> = (0..writes.len()).collect();
    order.sort_by(|&a, &b| writes[a].1.cmp(&writes[b].1));
    for pair in order.windows(2) {
        let (first, second) = (&writes[pair[0]], &writes[pair[1]]);
        if path::is_under(&second.1, &first.1) || path::is_under(&first.1, &second.1) {
            return Err(bad(&format!(
                "Invalid data; the paths {:?} and {:?} overlap",
                first.0, second.0
            )));
        }
    }
    let mut echo = Map::new();
    for (key, full, value) in writes {
        if !options.silent {
            echo.insert(key, tree::output(Some(&value)));
        }
        tree::set(&mut state.tree, &full, value);
    }
    Ok(ok(options, &Value::Object(echo)))
}

/// DELETE: removes the node (pruning empty parents), answers `null`.
pub(crate) fn delete(state: &mut State, path: &[String], options: &Options) -> Handled {
    precondition(state, path, options)?;
    tree::set(&mut state.tree, path, Value::Null);
    Ok(with_new_etag(
        state,
        path,
        options,
        ok(options, &Value::Null),
    ))
}

/// `if-match`: on a mismatch, 412 with the current value and ETag.
fn precondition(state: &State, path: &[String], options: &Options) -> Result<(), Reply> {
    let Some(expected) = options.if_match.as_deref() else {
        return Ok(());
    };
    let current = tree::get(&state.tree, path);
    let etag = tree::etag(current);
    if expected == etag {
        Ok(())
    } else {
        Err(Reply::json(412, &tree::output(current), options.pretty).with_etag(etag))
    }
}

/// Adds the ETag of the written location when the request used or asked for ETags.
fn with_new_etag(state: &State, path: &[String], options: &Options, reply: Reply) -> Reply {
    if options.want_etag || options.if_match.is_some() {
        reply.with_etag(tree::etag(tree::get(&state.tree, path)))
    } else {
        reply
    }
}

fn parse(body: &[u8]) -> Result<Value, Reply> {
    serde_json::from_slice(body).map_err(|_| bad(BAD_JSON))
}

/// Resolves server values against the current tree, checks keys and depth, normalizes.
fn prepare(state: &State, path: &[String], value: Value) -> Result<Value, Reply> {
    let current = tree::get(&state.tree, path);
    let resolved = server_values::resolve(value, current, state.now_ms()).map_err(|e| bad(&e))?;
    path::check_depth(path.len() + tree::depth(&resolved)).map_err(|e| bad(&e))?;
    Ok(tree::normalize(resolved))
}

/// A JSON object's entries in order, duplicates kept (a `Map` would drop them silently).
struct Entries(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;
        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor)
    }
}
