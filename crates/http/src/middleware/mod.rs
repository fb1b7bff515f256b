//! Middleware wrapped around the whole app. WebSocket upgrades never reach the app (see
//! `socket::handshake`), which use the request id and metrics helpers directly.

mod envelope;
pub(crate) mod metrics;
pub(crate) mod request_id;

pub(crate) use envelope::envelope;
pub(crate) use metrics::record_metrics;
pub(crate) use request_id::request_id;
