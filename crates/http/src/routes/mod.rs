//! Route table: one module per resource.

mod auth;
mod comments;
pub(crate) mod demo;
mod devices;
mod health;
mod metrics;
pub(crate) mod openapi;
mod users;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{ResponseError, web};
use domain::PageRequest;
use serde::Deserialize;

use crate::error::{self, ApiError};
use crate::views::decode_cursor;

/// `web::resource(path)` serving each `METHOD => handler`; any other method is answered 405
/// with the envelope and an `Allow` header naming these methods (RFC 9110 requires it).
macro_rules! resource {
    ($path:expr, $($method:ident => $handler:expr),+ $(,)?) => {{
        let allow = [$(actix_web::http::Method::$method.as_str()),+].join(", ");
        actix_web::web::resource($path)
            $(.route(actix_web::web::method(actix_web::http::Method::$method).to($handler)))+
            .default_service(actix_web::web::to(move || crate::routes::method_not_allowed(allow.clone())))
    }};
}
pub(crate) use resource;

/// Every route. The middleware (request id, metrics, envelope) is wrapped around the whole
/// app in `serve`, so requests no route matches (`GET *` included) get it too.
pub(crate) fn configure(cfg: &mut web::ServiceConfig, browser: &crate::BrowserOptions) {
    crate::browser::configure(cfg, browser);
    cfg.app_data(web::QueryConfig::default().error_handler(error::query_error))
        .app_data(web::PathConfig::default().error_handler(error::path_error))
        .service(resource!("/healthz", GET => health::alive))
        .service(resource!("/readyz", GET => health::ready))
        .service(resource!("/metrics", GET => metrics::render))
        .service(resource!(crate::socket::PATH, GET => crate::socket::without_upgrade))
        .service(web::resource("/socket/longpoll").to(longpoll))
        .service(
            web::scope("/api")
                .service(resource!("/openapi.json", GET => openapi::document))
                .service(resource!("/demo", GET => demo::hints))
                .service(resource!("/auth/register", POST => auth::register))
                .service(resource!("/auth/login", POST => auth::login))
                .service(resource!("/auth/refresh", POST => auth::refresh))
                .service(resource!("/auth/logout", POST => auth::logout))
                .service(resource!("/devices", GET => devices::list))
                .service(resource!("/devices/{id}", DELETE => devices::revoke))
                .service(resource!("/me", GET => users::me, PATCH => users::update_me))
                .service(resource!("/users", GET => users::list))
                .service(resource!(
                    "/users/{id}",
                    GET => users::show,
                    PATCH => users::administer,
                ))
                .service(resource!(
                    "/videos/{video_id}/comments",
                    GET => comments::list,
                    POST => comments::create,
                ))
                .service(resource!(
                    "/comments/{id}",
                    GET => comments::show,
                    PATCH => comments::update,
                    DELETE => comments::delete,
                )),
        )
        .default_service(web::to(not_found));
}

async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::not_found())
}

/// phoenix.js falls back to LongPoll when it finds no WebSocket (Node 20 has none built
/// in); the server speaks only WebSocket, so the fallback's polls learn why they fail.
async fn longpoll() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "longpoll_not_supported",
        "LongPoll is not supported: connect over WebSocket at /socket/websocket \
         (phoenix.js on Node 20 or 21: pass `transport: WebSocket` from the `ws` package)",
    ))
}

pub(crate) async fn method_not_allowed(allow: String) -> actix_web::HttpResponse {
    let mut response = ApiError::for_status(StatusCode::METHOD_NOT_ALLOWED).error_response();
    if let Ok(value) = HeaderValue::from_str(&allow) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
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
