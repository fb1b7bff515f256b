//! Conversions between domain values and column values: ids as big-endian `BINARY(16)`,
//! times as UTC `DATETIME(6)` truncated to microseconds.

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use uuid::Uuid;

use crate::error::{Error, Result};

/// The current time as stored: UTC, whole microseconds (MariaDB truncates, MySQL rounds,
/// so we cut first and both agree with what we return).
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

pub(crate) fn to_column(at: DateTime<Utc>) -> NaiveDateTime {
    at.trunc_subsecs(6).naive_utc()
}

pub(crate) fn from_column(at: NaiveDateTime) -> DateTime<Utc> {
    at.and_utc()
}

pub(crate) fn uuid_from_column(bytes: &[u8]) -> Result<Uuid> {
    Uuid::from_slice(bytes).map_err(|_| Error::corrupt(format!("id of {} bytes", bytes.len())))
}
