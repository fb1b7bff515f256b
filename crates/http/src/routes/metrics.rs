//! `/metrics` in the Prometheus text format.

use actix_web::{HttpResponse, web};

use crate::state::AppState;

pub(crate) async fn render(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body((state.render_metrics)())
}
