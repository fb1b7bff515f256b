//! Members as Phoenix.Presence writes them: `{"<key>": {"metas": [meta, ...]}, ...}`, one
//! key per user and one meta per connection, each meta with its own `phx_ref`. Metas are
//! kept serialized: they are only ever written out, and a room of ten thousand should not
//! hold ten thousand JSON trees.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

/// One connection's meta.
#[derive(Clone, Debug)]
pub(super) struct Meta {
    pub phx_ref: Box<str>,
    pub json: Arc<str>,
}

/// Metas by key.
pub(super) type Metas = BTreeMap<String, Vec<Meta>>;

/// `{"<key>": {"metas": [meta, ...]}, ...}`, the Phoenix.Presence map.
pub(super) fn write_metas(metas: &Metas, out: &mut String) {
    out.push('{');
    for (i, (key, list)) in metas.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(key).unwrap_or_else(|_| "\"\"".to_owned()));
        out.push_str(":{\"metas\":[");
        for (j, meta) in list.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str(&meta.json);
        }
        out.push_str("]}");
    }
    out.push('}');
}

pub(super) fn metas_json(metas: &Metas) -> String {
    let mut out = String::with_capacity(64 + metas.len() * 160);
    write_metas(metas, &mut out);
    out
}

/// `{"joins": {...}, "leaves": {...}}`, a `presence_diff`'s payload.
pub(super) fn diff_json(joins: &Metas, leaves: &Metas) -> String {
    let mut payload = String::from("{\"joins\":");
    write_metas(joins, &mut payload);
    payload.push_str(",\"leaves\":");
    write_metas(leaves, &mut payload);
    payload.push('}');
    payload
}

/// The metas of a Phoenix.Presence map, kept serialized; what is not in that shape is
/// skipped.
pub(super) fn parse_metas(map: &Value) -> Metas {
    let mut metas = Metas::new();
    let Some(map) = map.as_object() else {
        return metas;
    };
    for (key, entry) in map {
        let Some(list) = entry["metas"].as_array() else {
            continue;
        };
        for meta in list {
            let Some(phx_ref) = meta["phx_ref"].as_str() else {
                continue;
            };
            metas.entry(key.clone()).or_default().push(Meta {
                phx_ref: phx_ref.into(),
                json: meta.to_string().into(),
            });
        }
    }
    metas
}

/// `theirs` less every meta (by ref) that is in `ours`.
pub(super) fn minus(theirs: &Metas, ours: &Metas) -> Metas {
    let mut out = Metas::new();
    for (key, list) in theirs {
        let known = ours.get(key);
        let missing: Vec<Meta> = list
            .iter()
            .filter(|m| !known.is_some_and(|k| k.iter().any(|o| o.phx_ref == m.phx_ref)))
            .cloned()
            .collect();
        if !missing.is_empty() {
            out.insert(key.clone(), missing);
        }
    }
    out
}

/// Takes the meta `phx_ref` out of `key`'s list.
pub(super) fn remove_ref(metas: &mut Metas, key: &str, phx_ref: &str) -> Option<Meta> {
    let list = metas.get_mut(key)?;
    let at = list.iter().position(|m| &*m.phx_ref == phx_ref)?;
    let meta = list.remove(at);
    if list.is_empty() {
        metas.remove(key);
    }
    Some(meta)
}
