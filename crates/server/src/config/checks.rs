//! Validation as tables: each concern lists the rules its settings keep, each row naming
//! the `RTS_*` variable an error reports. A value that becomes a typed value (a URL, a list
//! of networks or origins) is parsed where its concern builds it, naming its variable too.

use std::fmt::Display;

use super::ConfigError;

/// One rule a concern's settings `S` keep, and the variable named when they do not.
pub(super) struct Check<S> {
    pub variable: &'static str,
    /// `Err(reason)`, e.g. "must be between 1 and 1000", when the rule is broken.
    pub rule: fn(&S) -> Result<(), String>,
}

/// The first rule of `checks` that `settings` break, as an error naming its variable.
pub(super) fn run<S>(settings: &S, checks: &[Check<S>]) -> Result<(), ConfigError> {
    for check in checks {
        (check.rule)(settings).map_err(|reason| invalid(check.variable, reason))?;
    }
    Ok(())
}

/// `value` lies within `low..=high`.
pub(super) fn between<T: PartialOrd + Display>(value: T, low: T, high: T) -> Result<(), String> {
    require(
        low <= value && value <= high,
        format!("must be between {low} and {high}"),
    )
}

/// `value` is at most `high`.
pub(super) fn at_most<T: PartialOrd + Display>(value: T, high: T) -> Result<(), String> {
    require(value <= high, format!("must be at most {high}"))
}

/// `value` is above zero and at most `high` (a rate).
pub(super) fn above_zero_at_most(value: f64, high: f64) -> Result<(), String> {
    require(
        value > 0.0 && value <= high,
        format!("must be above 0 and at most {high}"),
    )
}

/// `Err(reason)` unless `holds`.
pub(super) fn require(holds: bool, reason: impl Into<String>) -> Result<(), String> {
    if holds { Ok(()) } else { Err(reason.into()) }
}

/// The one-line error for `variable` (`RTS_*`).
pub(super) fn invalid(variable: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting: variable.to_owned(),
        reason: reason.into(),
        source_note: String::new(),
    }
}
