//! Middleware wrapped around every route.

mod envelope;
mod metrics;
mod request_id;

pub(crate) use envelope::envelope;
pub(crate) use metrics::record_metrics;
pub(crate) use request_id::request_id;
