//! `realtime-server config`: every setting with the value in effect, its default and
//! where the value came from, secrets hidden.

use figment::Figment;
use figment::providers::Serialized;
use secrecy::{ExposeSecret, SecretString};
use serde::Serializer;
use serde_json::Value;

use super::{ConfigError, Settings, env_name, layers};

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

/// A value as the table shows it; `(unset)` for none, `(empty)` for an empty string.
fn render(value: Option<figment::value::Value>) -> String {
    match value.and_then(|v| v.deserialize::<Value>().ok()) {
        None | Some(Value::Null) => "(unset)".to_owned(),
        Some(Value::String(s)) if s.is_empty() => "(empty)".to_owned(),
        Some(Value::String(s)) => s,
        Some(other) => other.to_string(),
    }
}

/// Every setting of `settings`, read through the layers of `figment`, beside the defaults.
pub(super) fn describe(
    figment: &Figment,
    settings: &Settings,
) -> Result<Vec<Setting>, ConfigError> {
    let defaults = layers::defaults();
    let effective = Figment::from(Serialized::defaults(settings));
    let keys = layers::keys(&defaults).map_err(|e| ConfigError::Invalid {
        setting: "RTS_CONFIG".into(),
        reason: e.to_string(),
        source_note: String::new(),
    })?;
    Ok(keys
        .iter()
        .map(|key| Setting {
            name: env_name(key),
            value: render(effective.find_value(key).ok()),
            default: render(defaults.find_value(key).ok()),
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
