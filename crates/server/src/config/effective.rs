//! `realtime-server config`: every setting with the value in effect, its default and
//! where the value came from, secrets hidden.

use figment::Figment;
use secrecy::{ExposeSecret, SecretString};
use serde::Serializer;
use serde_json::Value;

use super::{ConfigError, KNOWN, Raw, env_name};

/// One setting as `realtime-server config` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    /// `RTS_*`.
    pub name: String,
    /// In effect, secrets hidden; `(unset)` for none.
    pub value: String,
    pub default: String,
    /// `default`, `environment` or `file <path>`.
    pub source: String,
}

/// How secrets are written out: never in clear.
pub(super) mod shown {
    use super::*;

    fn masked(raw: &str) -> String {
        match url::Url::parse(raw) {
            Ok(mut url) if url.password().is_some() => {
                let _ = url.set_password(Some("***"));
                url.to_string()
            }
            Ok(url) => url.to_string(),
            Err(_) => "(not a URL)".to_owned(),
        }
    }

    pub fn url<S: Serializer>(value: &SecretString, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&masked(value.expose_secret()))
    }

    pub fn optional_url<S: Serializer>(
        value: &Option<SecretString>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) if !v.expose_secret().is_empty() => s.serialize_str(&masked(v.expose_secret())),
            _ => s.serialize_none(),
        }
    }

    pub fn secret<S: Serializer>(value: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) if !v.expose_secret().is_empty() => {
                s.serialize_str(&format!("(hidden, {} bytes)", v.expose_secret().len()))
            }
            _ => s.serialize_none(),
        }
    }
}

fn render(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "(unset)".to_owned(),
        Some(Value::String(s)) if s.is_empty() => "(empty)".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Every setting of `raw`, read through `figment`, beside the defaults.
pub(super) fn describe(figment: &Figment, raw: &Raw) -> Result<Vec<Setting>, ConfigError> {
    let to_map = |raw: &Raw| {
        serde_json::to_value(raw).map_err(|e| ConfigError::Invalid {
            setting: "RTS_CONFIG".into(),
            reason: e.to_string(),
            source_note: String::new(),
        })
    };
    let effective = to_map(raw)?;
    let defaults = to_map(&Raw::default())?;
    Ok(KNOWN
        .iter()
        .map(|key| Setting {
            name: env_name(key),
            value: render(effective.get(*key)),
            default: render(defaults.get(*key)),
            source: match figment.find_metadata(key) {
                None => "default".to_owned(),
                Some(meta) => match &meta.source {
                    Some(figment::Source::File(path)) => format!("file {}", path.display()),
                    _ => meta.name.to_string(),
                },
            },
        })
        .collect())
}
