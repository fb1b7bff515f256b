//! Request latency histograms by route pattern, method and status
//! (`http_request_duration_seconds`). Unrouted paths share the route label "unmatched" so
//! scanners cannot blow up the label set.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;

/// The route label of every path no route matched.
pub(crate) const UNMATCHED: &str = "unmatched";

pub(crate) async fn record_metrics(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let res = next.call(req).await?;
    let route = res
        .request()
        .match_pattern()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| UNMATCHED.to_owned());
    record(route, method, res.status().as_str().to_owned(), started);
    Ok(res)
}

/// One request's latency, labelled by route pattern, method and status.
pub(crate) fn record(route: String, method: String, status: String, started: Instant) {
    metrics::histogram!(
        "http_request_duration_seconds",
        "route" => route,
        "method" => method,
        "status" => status,
    )
    .record(started.elapsed().as_secs_f64());
}
