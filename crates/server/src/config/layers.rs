//! The layers a configuration is read from: the `RTS_CONFIG` file, then the environment,
//! over the defaults. Which keys exist is what figment knows from the defaults of every
//! concern; a key no concern declares is refused here, with the one it was likely meant to be.

use std::path::PathBuf;

use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Provider};

use super::{ConfigError, Settings, env_name};

/// Variables with our prefix that are not settings: `RTS_TEST_*` belong to the test suites.
fn is_setting(key: &str) -> bool {
    !key.starts_with("TEST_")
}

/// The layers (the `RTS_CONFIG` file, the environment) and what they add up to.
pub(super) fn read(
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<(Figment, Settings), ConfigError> {
    let mut file = None;
    let mut from_env = Vec::new();
    for (name, value) in vars {
        let Some(key) = name.strip_prefix("RTS_") else {
            continue;
        };
        if key == "CONFIG" {
            file = Some(PathBuf::from(value));
        } else if is_setting(key) {
            from_env.push((key.to_lowercase(), value));
        }
    }
    let mut figment = Figment::new();
    if let Some(path) = &file {
        if !path.is_file() {
            return Err(ConfigError::File {
                path: path.display().to_string(),
                reason: "no such file (named by RTS_CONFIG)".into(),
            });
        }
        figment = figment.merge(Toml::file_exact(path));
    }
    let origin = Origin {
        from_env: from_env.iter().map(|(key, _)| key.clone()).collect(),
        file,
    };
    let figment = figment.merge(EnvSettings(from_env));
    refuse_unknown(&figment, &origin)?;
    let settings = Settings::extract(&figment).map_err(|e| origin.invalid(e))?;
    Ok((figment, settings))
}

/// Every setting with its default (secrets hidden), as figment holds them.
pub(super) fn defaults() -> Figment {
    Figment::from(Serialized::defaults(Settings::default()))
}

/// The keys of `figment`'s data, in order.
pub(super) fn keys(figment: &Figment) -> Result<Vec<String>, Box<figment::Error>> {
    Ok(figment
        .data()?
        .into_values()
        .flat_map(Dict::into_keys)
        .collect())
}

/// Refuses the first key of the layers that no concern declares.
fn refuse_unknown(layers: &Figment, origin: &Origin) -> Result<(), ConfigError> {
    let known = keys(&defaults()).map_err(|e| origin.invalid(e))?;
    for key in keys(layers).map_err(|e| origin.invalid(e))? {
        if !known.contains(&key) {
            return Err(ConfigError::Unknown {
                setting: env_name(&key),
                source_note: origin.note(&key),
                hint: hint(&key, &known),
            });
        }
    }
    Ok(())
}

/// "did you mean RTS_HTTP_ADDR?" for a misspelt key, else the known names.
fn hint(key: &str, known: &[String]) -> String {
    let closest = known
        .iter()
        .map(|known| (strsim::damerau_levenshtein(key, known), known))
        .min();
    match closest {
        Some((distance, known)) if distance <= 3.max(key.len() / 5) => {
            format!("did you mean {}?", env_name(known))
        }
        _ => format!(
            "no such setting (`realtime-server config` lists them: {})",
            known
                .iter()
                .map(|k| env_name(k))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Which layer set what, for the note on an error.
struct Origin {
    file: Option<PathBuf>,
    from_env: Vec<String>,
}

impl Origin {
    /// Nothing for a key from the environment, " (in <file>)" for one from the file.
    fn note(&self, key: &str) -> String {
        match &self.file {
            _ if self.from_env.iter().any(|k| k == key) => String::new(),
            Some(path) => format!(" (in {})", path.display()),
            None => String::new(),
        }
    }

    /// A value figment could not read as its setting's type, or a file it could not read.
    fn invalid(&self, err: Box<figment::Error>) -> ConfigError {
        let key = err.path.last().cloned().unwrap_or_default();
        ConfigError::Invalid {
            setting: if key.is_empty() {
                "RTS_CONFIG".into()
            } else {
                env_name(&key)
            },
            reason: format!("{}{}", err.kind, example(&key)),
            source_note: self.note(&key),
        }
    }
}

/// What a valid value looks like, for settings whose type alone does not say.
fn example(key: &str) -> &'static str {
    match key {
        "http_addr" => " (give an IP address and a port, e.g. 127.0.0.1:4000 or 0.0.0.0:4000)",
        _ => "",
    }
}

/// `RTS_*` variables as a figment layer; values are read like TOML scalars, so "10" is a
/// number and "true" a boolean.
struct EnvSettings(Vec<(String, String)>);

impl figment::Provider for EnvSettings {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::named("environment")
    }

    fn data(&self) -> Result<Map<figment::Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        for (key, value) in &self.0 {
            let parsed = value
                .parse::<Value>()
                .unwrap_or_else(|never| match never {});
            dict.insert(key.clone(), parsed);
        }
        Ok(figment::Profile::Default.collect(dict))
    }
}
