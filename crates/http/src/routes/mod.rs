//! Route table: one module per resource.

mod auth;
mod comments;
mod devices;
mod health;
mod metrics;
pub(crate) mod openapi;
mod users;

use actix_web::web;
use domain::PageRequest;
use serde::Deserialize;

use crate::error::{self, ApiError};
use crate::middleware;
use crate::views::decode_cursor;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::QueryConfig::default().error_handler(error::query_error))
        .app_data(web::PathConfig::default().error_handler(error::path_error))
        .service(
            web::scope("")
                .wrap(actix_web::middleware::from_fn(middleware::envelope))
                .wrap(actix_web::middleware::from_fn(middleware::record_metrics))
                .wrap(actix_web::middleware::from_fn(middleware::request_id))
                .route("/healthz", web::get().to(health::alive))
                .route("/readyz", web::get().to(health::ready))
                .route("/metrics", web::get().to(metrics::render))
                .route(
                    crate::socket::PATH,
                    web::get().to(crate::socket::without_upgrade),
                )
                .service(
                    web::scope("/api")
                        .service(web::resource("/openapi.json").get(openapi::document))
                        .service(web::resource("/auth/register").post(auth::register))
                        .service(web::resource("/auth/login").post(auth::login))
                        .service(web::resource("/auth/refresh").post(auth::refresh))
                        .service(web::resource("/auth/logout").post(auth::logout))
                        .service(web::resource("/devices").get(devices::list))
                        .service(web::resource("/devices/{id}").delete(devices::revoke))
                        .service(web::resource("/me").get(users::me).patch(users::update_me))
                        .service(web::resource("/users").get(users::list))
                        .service(
                            web::resource("/users/{id}")
                                .get(users::show)
                                .patch(users::administer),
                        )
                        .service(
                            web::resource("/videos/{video_id}/comments")
                                .get(comments::list)
                                .post(comments::create),
                        )
                        .service(
                            web::resource("/comments/{id}")
                                .get(comments::show)
                                .patch(comments::update)
                                .delete(comments::delete),
                        ),
                )
                .default_service(web::to(not_found)),
        );
}

async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::not_found())
}

/// `?limit=N&cursor=C` on list routes.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageQuery {
    /// Items per page, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub(crate) limit: Option<u16>,
    /// The `next_cursor` of the previous page.
    pub(crate) cursor: Option<String>,
}

impl PageQuery {
    pub(crate) fn into_request<K>(
        self,
        key: impl Fn(uuid::Uuid) -> K,
    ) -> Result<PageRequest<K>, ApiError> {
        let before = match self.cursor.as_deref().filter(|c| !c.is_empty()) {
            Some(cursor) => Some(key(decode_cursor(cursor)?)),
            None => None,
        };
        let limit = self.limit.unwrap_or(PageRequest::<K>::DEFAULT_LIMIT);
        PageRequest::new(limit, before).map_err(|e| ApiError::fields(vec![e.into()]))
    }
}
