//! Request ids: taken from a sane incoming `x-request-id` or made fresh (UUIDv7), put on the
//! tracing span of everything the request logs, and echoed in the response.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

pub(crate) const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Routes polled by orchestrators and scrapers: their access log lines go to debug.
const QUIET_PATHS: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

fn acceptable(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The request's id: its own `x-request-id` if that is sane, else a fresh one.
pub(crate) fn of(headers: &HeaderMap) -> String {
    headers
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// The span everything a request logs goes under.
pub(crate) fn span(id: &str, method: &Method, path: &str) -> tracing::Span {
    tracing::info_span!("request", request_id = %id, method = %method, path = %path)
}

/// Whether the access log line of `path` goes to debug rather than info.
pub(crate) fn is_quiet(path: &str) -> bool {
    QUIET_PATHS.contains(&path)
}

/// The access log line, in the request's span.
pub(crate) fn log_finished(span: &tracing::Span, quiet: bool, status: u16, started: Instant) {
    let duration_ms = millis_for_logs(started.elapsed());
    span.in_scope(|| {
        if quiet {
            tracing::debug!(status, duration_ms, "request finished");
        } else {
            tracing::info!(status, duration_ms, "request finished");
        }
    });
}

/// A duration in milliseconds to two decimals, as people read it in a log line: `2.48`,
/// not `2.4780290000000003`.
fn millis_for_logs(duration: std::time::Duration) -> f64 {
    (duration.as_secs_f64() * 100_000.0).round() / 100.0
}

pub(crate) async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = of(req.headers());
    let quiet = is_quiet(req.path());
    let span = span(&id, req.method(), req.path());
    let started = Instant::now();
    let mut res = next.call(req).instrument(span.clone()).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(X_REQUEST_ID, value);
    }
    log_finished(&span, quiet, res.status().as_u16(), started);
    Ok(res)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::millis_for_logs;

    #[test]
    fn log_durations_are_rounded_to_hundredths_of_a_millisecond() {
        assert_eq!(
            millis_for_logs(Duration::from_nanos(2_478_029)).to_string(),
            "2.48"
        );
        assert_eq!(millis_for_logs(Duration::from_micros(1_500_004)), 1500.0);
        assert_eq!(millis_for_logs(Duration::from_nanos(4_000)), 0.0);
    }
}
