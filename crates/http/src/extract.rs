//! Request extractors: the authenticated caller (bearer access token), JSON bodies that
//! must be objects, and the client's address for rate limits and the audit log.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, web};
use domain::policy::Actor;
use serde::de::{DeserializeOwned, Deserializer, Visitor};
use serde::{Deserialize, forward_to_deserialize_any};

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

/// A JSON request body that must be an object. serde reads a struct from a JSON array too
/// (the fields in order), so `web::Json` alone would take `["a@b.c", "pw"]` as a login;
/// here anything but an object is a 422 like any other body of the wrong shape.
#[derive(Debug)]
pub(crate) struct JsonObject<T>(T);

impl<T> JsonObject<T> {
    pub(crate) fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for JsonObject<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonObject<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Json::<ObjectOnly<T>>::from_request(req, payload);
        Box::pin(async move { Ok(JsonObject(body.await?.into_inner().0)) })
    }
}

/// Deserializes `T` from a map only: a struct is read with `deserialize_map`, which refuses
/// sequences, where `deserialize_struct` would accept them.
struct ObjectOnly<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectOnly<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(MapOnly(deserializer)).map(ObjectOnly)
    }
}

struct MapOnly<D>(D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for MapOnly<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(visitor)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct enum identifier
        ignored_any
    }
}

/// The token of `Bearer <token>`. The scheme is case-insensitive and may be followed by
/// more than one space (RFC 7235, section 2.1).
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim_start();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The client's address: the peer's, or what a trusted proxy forwarded (see
/// `client_addr`).
pub(crate) fn client_ip(req: &HttpRequest) -> Option<String> {
    let peer = req.peer_addr()?.ip();
    let client = match req.app_data::<actix_web::web::Data<crate::AppState>>() {
        Some(state) => state.trusted_proxies.client(peer, req.headers()),
        None => peer,
    };
    Some(client.to_string())
}

#[cfg(test)]
mod tests {
    use super::{ObjectOnly, bearer_token};

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Login {
        email: String,
        password: String,
    }

    #[test]
    fn a_body_is_an_object_never_an_array() {
        let parsed: ObjectOnly<Login> =
            serde_json::from_str(r#"{"email": "a@b.c", "password": "pw"}"#)
                .unwrap_or_else(|e| panic!("an object is read: {e}"));
        assert_eq!(parsed.0.email, "a@b.c");
        for body in [r#"["a@b.c", "pw"]"#, "\"text\"", "7", "null"] {
            let err = serde_json::from_str::<ObjectOnly<Login>>(body)
                .err()
                .unwrap_or_else(|| panic!("{body} is refused"));
            assert!(
                err.is_data(),
                "{body}: a body of the wrong shape (422): {err}"
            );
        }
        // The plain struct would have taken the array.
        assert!(serde_json::from_str::<Login>(r#"["a@b.c", "pw"]"#).is_ok());
    }

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
