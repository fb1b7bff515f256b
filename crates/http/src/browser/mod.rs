//! What the server does for browsers: serves the web client (`assets`), and decides which
//! other web origins may call the API (CORS) and open sockets (`origins`).

mod assets;
mod origins;

use std::path::PathBuf;

use actix_web::http::header;
use actix_web::web;

pub use origins::AllowedOrigins;

/// The browser-facing settings.
#[derive(Clone, Debug)]
pub struct BrowserOptions {
    /// Serve the web client at `/` (off for API-only deployments).
    pub web_client: bool,
    /// Read the web client's files from this folder on each request instead of the
    /// binary (development).
    pub web_dir: Option<PathBuf>,
    /// Origins besides the server's own that may use the API and sockets from a browser.
    pub allowed_origins: AllowedOrigins,
}

impl Default for BrowserOptions {
    /// The web client served from the binary, and no other origins.
    fn default() -> Self {
        Self {
            web_client: true,
            web_dir: None,
            allowed_origins: AllowedOrigins::default(),
        }
    }
}

/// Mounts `/` and `/assets/...` when the web client is on.
pub(crate) fn configure(cfg: &mut web::ServiceConfig, options: &BrowserOptions) {
    if options.web_client {
        cfg.service(crate::routes::resource!("/", GET => assets::index))
            .service(crate::routes::resource!("/assets/{path:.+}", GET => assets::asset));
    }
}

/// CORS for the API: the server's own origin and the allowed ones get the CORS headers
/// (preflights included); a browser request from any other origin is refused.
pub(crate) fn cors(origins: &AllowedOrigins) -> actix_cors::Cors {
    let origins = origins.clone();
    actix_cors::Cors::default()
        .allowed_origin_fn(move |origin, head| {
            origin
                .to_str()
                .is_ok_and(|o| origins.allows(o, &head.headers))
        })
        .allowed_methods(["GET", "POST", "PATCH", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            header::HeaderName::from_static("x-request-id"),
            header::RETRY_AFTER,
            header::WWW_AUTHENTICATE,
        ])
        .max_age(600)
}

/// Refuses, with 403 and the envelope, a browser request (preflights included) from an
/// origin that is neither the server's own nor allowed: the page could not read the
/// answer anyway, and the server should not act on it.
pub(crate) async fn refuse_foreign_origins(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<
    actix_web::dev::ServiceResponse<
        actix_web::body::EitherBody<impl actix_web::body::MessageBody, actix_web::body::BoxBody>,
    >,
    actix_web::Error,
> {
    use actix_web::ResponseError;
    let admitted = req
        .app_data::<web::Data<crate::AppState>>()
        .is_none_or(|state| state.browser.allowed_origins.admit(req.headers()));
    if admitted {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let refusal = crate::error::ApiError::new(
        actix_web::http::StatusCode::FORBIDDEN,
        "forbidden",
        "this origin may not use the API (RTS_CORS_ALLOWED_ORIGINS lists the allowed ones)",
    )
    .error_response();
    let (req, _) = req.into_parts();
    Ok(actix_web::dev::ServiceResponse::new(req, refusal).map_into_right_body())
}

/// `X-Content-Type-Options: nosniff` on every answer (a JSON error must never be sniffed
/// into a page), and the page's security headers on every answer under `/` and
/// `/assets/`, a 404 included.
pub(crate) async fn security_headers(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let page = req.path() == "/" || req.path().starts_with("/assets/");
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    if page {
        assets::secure(headers);
    } else {
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            header::HeaderValue::from_static("nosniff"),
        );
    }
    Ok(res)
}
