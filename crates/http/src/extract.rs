//! Request extractors: the authenticated caller (bearer access token) and the client's
//! address for rate limits and the audit log.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, web};
use domain::policy::Actor;

use crate::error::ApiError;
use crate::state::AppState;

/// The caller, from `Authorization: Bearer <access token>`; 401 otherwise.
#[derive(Clone, Debug)]
pub(crate) struct Authenticated(pub Actor);

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let header = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Box::pin(async move {
            let state = state.ok_or_else(|| domain::Error::internal("app state missing"))?;
            let token = header
                .as_deref()
                .and_then(|h| {
                    h.strip_prefix("Bearer ")
                        .or_else(|| h.strip_prefix("bearer "))
                })
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "unauthorized",
                        "send an access token as `Authorization: Bearer <token>`",
                    )
                })?;
            let actor = state.sessions.authenticate(token).await?;
            Ok(Authenticated(actor))
        })
    }
}

/// The peer address the connection came from (not a forwarded header, which anyone can
/// set).
pub(crate) fn client_ip(req: &HttpRequest) -> Option<String> {
    req.peer_addr().map(|a| a.ip().to_string())
}
