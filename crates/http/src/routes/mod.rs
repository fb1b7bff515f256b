//! Route table: one module per resource.

mod health;
mod metrics;

use actix_web::web;

use crate::error::ApiError;
use crate::middleware;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("")
            .wrap(actix_web::middleware::from_fn(middleware::record_metrics))
            .wrap(actix_web::middleware::from_fn(middleware::request_id))
            .route("/healthz", web::get().to(health::alive))
            .route("/readyz", web::get().to(health::ready))
            .route("/metrics", web::get().to(metrics::render))
            .default_service(web::to(not_found)),
    );
}

async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::not_found())
}
