//! `/healthz` (the process is alive) and `/readyz` (its dependencies answer, so it can
//! take traffic).

use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::{HttpResponse, web};
use futures_util::future::join_all;
use serde::Serialize;

use crate::state::AppState;

/// How long one dependency may take to answer before it counts as down.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Serialize)]
struct Report {
    status: &'static str,
    checks: BTreeMap<&'static str, String>,
}

pub(crate) async fn alive() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "alive" }))
}

pub(crate) async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let results = join_all(state.probes.iter().map(|probe| async move {
        let outcome = match tokio::time::timeout(PROBE_TIMEOUT, probe.check()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(reason)) => Err(reason),
            Err(_) => Err(format!("no answer within {} s", PROBE_TIMEOUT.as_secs())),
        };
        (probe.name(), probe.required(), outcome)
    }))
    .await;
    let ready = results
        .iter()
        .all(|(_, required, r)| r.is_ok() || !required);
    let degraded = results.iter().any(|(_, _, r)| r.is_err());
    let checks = results
        .into_iter()
        .map(|(name, _, r)| (name, r.err().unwrap_or_else(|| "ok".to_owned())))
        .collect::<BTreeMap<_, _>>();
    if ready {
        // Degraded (a dependency it can do without is down) is still ready: pulling every
        // node from the load balancer at once would be worse.
        HttpResponse::Ok().json(Report {
            status: if degraded { "degraded" } else { "ready" },
            checks,
        })
    } else {
        tracing::warn!(?checks, "not ready");
        HttpResponse::ServiceUnavailable().json(Report {
            status: "unavailable",
            checks,
        })
    }
}
