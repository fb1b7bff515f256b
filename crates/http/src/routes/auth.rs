//! `/api/auth/*`: register, login, refresh, logout.

use actix_web::{HttpRequest, HttpResponse, web};
use auth::{Login, Password, SignUp};
use domain::{DeviceId, Email, Username};
use serde::Deserialize;
use serde_json::Value;

use crate::error::{ApiError, Fields};
use crate::extract::{Authenticated, JsonObject, client_ip};
use crate::state::AppState;
use crate::views::SessionView;

/// The device a sign-up or login comes from (both bodies carry these fields).
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct DeviceFields {
    /// Defaults to "default".
    #[schema(pattern = "^[A-Za-z0-9_.:-]{1,128}$")]
    device_id: Option<String>,
    /// Any JSON object up to 4096 bytes, nested at most 8 levels (app version, OS, ...).
    #[schema(value_type = Option<Object>)]
    device_info: Option<Value>,
}

impl DeviceFields {
    /// The validated device id and info, broken rules recorded in `fields`.
    fn parse(self, fields: &mut Fields) -> (Option<DeviceId>, Option<Value>) {
        let id = fields.take(DeviceId::parse(
            self.device_id.as_deref().unwrap_or("default"),
        ));
        let info = self
            .device_info
            .unwrap_or_else(|| Value::Object(Default::default()));
        (id, fields.take(device_info(info)))
    }
}

/// Device info is a JSON object of at most 4 KiB, nested at most 8 levels (MariaDB refuses
/// JSON nested 32 deep; no device needs more than a few).
fn device_info(info: Value) -> Result<Value, domain::ValidationError> {
    fn depth(v: &Value) -> usize {
        match v {
            Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
            Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }
    let size = serde_json::to_vec(&info).map_or(usize::MAX, |v| v.len());
    if !info.is_object() || size > 4096 || depth(&info) > 8 {
        return Err(domain::ValidationError::new(
            "device_info",
            "must be a JSON object of at most 4096 bytes, nested at most 8 levels",
        ));
    }
    Ok(info)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct RegisterBody {
    #[schema(format = Email, max_length = 254)]
    email: String,
    #[schema(pattern = "^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$")]
    username: String,
    #[schema(min_length = 8, max_length = 128)]
    password: String,
    #[serde(flatten)]
    device: DeviceFields,
}

#[utoipa::path(
    post,
    path = "/api/auth/register",
    tag = "auth",
    summary = "Create an account and sign in",
    request_body = RegisterBody,
    responses(
        (status = 201, description = "signed in", body = crate::views::SessionView),
        (status = 409, description = "email or username taken", body = crate::error::Envelope),
        (status = 400, description = "malformed JSON", body = crate::error::Envelope),
        (status = 413, description = "body too large", body = crate::error::Envelope),
        (status = 415, description = "not application/json", body = crate::error::Envelope),
        (status = 422, description = "invalid fields", body = crate::error::Envelope),
        (status = 429, description = "rate limited", body = crate::error::Envelope)
    )
)]
pub(crate) async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: JsonObject<RegisterBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let mut fields = Fields::default();
    let email = fields.take(Email::parse(&body.email));
    let username = fields.take(Username::parse(&body.username));
    let password = fields.take(Password::parse(&body.password));
    let (device_id, device_info) = body.device.parse(&mut fields);
    let (Some(email), Some(username), Some(password), Some(device_id), Some(device_info)) =
        (email, username, password, device_id, device_info)
    else {
        return Err(fields.error());
    };
    let session = state
        .sessions
        .register(SignUp {
            email,
            username,
            password,
            device_id,
            device_info,
            ip: client_ip(&req),
        })
        .await?;
    Ok(HttpResponse::Created().json(SessionView::from(session)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct LoginBody {
    #[schema(format = Email, max_length = 254)]
    email: String,
    #[schema(min_length = 1, max_length = 1024)]
    password: String,
    #[serde(flatten)]
    device: DeviceFields,
}

#[utoipa::path(
    post,
    path = "/api/auth/login",
    tag = "auth",
    summary = "Sign in on a device",
    request_body = LoginBody,
    responses(
        (status = 200, description = "signed in", body = crate::views::SessionView),
        (status = 401, description = "wrong email or password", body = crate::error::Envelope),
        (status = 403, description = "account deactivated", body = crate::error::Envelope),
        (status = 429, description = "too many attempts; see Retry-After", body = crate::error::Envelope),
        (status = 400, description = "malformed JSON", body = crate::error::Envelope),
        (status = 413, description = "body too large", body = crate::error::Envelope),
        (status = 415, description = "not application/json", body = crate::error::Envelope),
        (status = 422, description = "invalid fields", body = crate::error::Envelope)
    )
)]
pub(crate) async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonObject<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let mut fields = Fields::default();
    let email = fields.take(Email::parse(&body.email));
    let password = fields.take(if body.password.is_empty() || body.password.len() > 1024 {
        Err(domain::ValidationError::new(
            "password",
            "must be 1 to 1024 bytes",
        ))
    } else {
        Ok(body.password)
    });
    let (device_id, device_info) = body.device.parse(&mut fields);
    let (Some(email), Some(password), Some(device_id), Some(device_info)) =
        (email, password, device_id, device_info)
    else {
        return Err(fields.error());
    };
    let session = state
        .sessions
        .login(Login {
            email,
            password,
            device_id,
            device_info,
            ip: client_ip(&req),
        })
        .await?;
    Ok(HttpResponse::Ok().json(SessionView::from(session)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct RefreshBody {
    refresh_token: String,
}

#[utoipa::path(
    post,
    path = "/api/auth/refresh",
    tag = "auth",
    summary = "Trade a refresh token for a new pair (the old one is spent)",
    request_body = RefreshBody,
    responses(
        (status = 200, description = "new pair", body = crate::views::SessionView),
        (status = 401, description = "invalid, expired or reused refresh token", body = crate::error::Envelope),
        (status = 403, description = "account deactivated", body = crate::error::Envelope),
        (status = 400, description = "malformed JSON", body = crate::error::Envelope),
        (status = 413, description = "body too large", body = crate::error::Envelope),
        (status = 415, description = "not application/json", body = crate::error::Envelope),
        (status = 422, description = "invalid fields", body = crate::error::Envelope)
    )
)]
pub(crate) async fn refresh(
    state: web::Data<AppState>,
    body: JsonObject<RefreshBody>,
) -> Result<HttpResponse, ApiError> {
    let session = state.sessions.refresh(&body.refresh_token).await?;
    Ok(HttpResponse::Ok().json(SessionView::from(session)))
}

#[utoipa::path(
    post,
    path = "/api/auth/logout",
    tag = "auth",
    summary = "Sign this device out",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "signed out"),
        (status = 401, description = "missing, invalid or expired access token", body = crate::error::Envelope)
    )
)]
pub(crate) async fn logout(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, ApiError> {
    state.sessions.logout(&actor).await?;
    Ok(HttpResponse::NoContent().finish())
}
