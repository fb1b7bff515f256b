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
            let token = header.as_deref().and_then(bearer_token).ok_or_else(|| {
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

/// The token of `Bearer <token>`. The scheme is case-insensitive and may be followed by
/// more than one space (RFC 7235, section 2.1).
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim_start();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The peer address the connection came from (not a forwarded header, which anyone can
/// set).
pub(crate) fn client_ip(req: &HttpRequest) -> Option<String> {
    req.peer_addr().map(|a| a.ip().to_string())
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn the_scheme_is_case_insensitive() {
        for header in [
            "Bearer t0k",
            "bearer t0k",
            "BEARER t0k",
            "bEaReR   t0k",
            " Bearer t0k ",
        ] {
            assert_eq!(bearer_token(header), Some("t0k"), "{header:?}");
        }
        for header in [
            "",
            "Bearer",
            "Bearer ",
            "Bearert0k",
            "Basic t0k",
            "Bear t0k",
        ] {
            assert_eq!(bearer_token(header), None, "{header:?}");
        }
    }
}
