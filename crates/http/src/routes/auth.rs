//! `/api/auth/*`: register, login, refresh, logout.

use actix_web::{HttpRequest, HttpResponse, web};
use auth::{Login, Password, SignUp};
use domain::{DeviceId, Email, Username};
use serde::Deserialize;
use serde_json::Value;

use crate::error::{ApiError, Fields};
use crate::extract::{Authenticated, client_ip};
use crate::state::AppState;
use crate::views::SessionView;

/// The device a request signs in from; `device_id` defaults to "default".
fn device(
    fields: &mut Fields,
    id: Option<&str>,
    info: Option<Value>,
) -> (Option<DeviceId>, Option<Value>) {
    let id = fields.take(DeviceId::parse(id.unwrap_or("default")));
    let info = info.unwrap_or_else(|| Value::Object(Default::default()));
    let info = fields.take(device_info(info));
    (id, info)
}

/// Device info is a JSON object of at most 4 KiB.
fn device_info(info: Value) -> Result<Value, domain::ValidationError> {
    let size = serde_json::to_vec(&info)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if !info.is_object() || size > 4096 {
        return Err(domain::ValidationError::new(
            "device_info",
            "must be a JSON object of at most 4096 bytes",
        ));
    }
    Ok(info)
}

#[derive(Deserialize)]
pub(crate) struct RegisterBody {
    email: String,
    username: String,
    password: String,
    device_id: Option<String>,
    device_info: Option<Value>,
}

pub(crate) async fn register(
    state: web::Data<AppState>,
    body: web::Json<RegisterBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let mut fields = Fields::default();
    let email = fields.take(Email::parse(&body.email));
    let username = fields.take(Username::parse(&body.username));
    let password = fields.take(Password::parse(&body.password));
    let (device_id, device_info) = device(&mut fields, body.device_id.as_deref(), body.device_info);
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
        })
        .await?;
    Ok(HttpResponse::Created().json(SessionView::from(session)))
}

#[derive(Deserialize)]
pub(crate) struct LoginBody {
    email: String,
    password: String,
    device_id: Option<String>,
    device_info: Option<Value>,
}

pub(crate) async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<LoginBody>,
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
    let (device_id, device_info) = device(&mut fields, body.device_id.as_deref(), body.device_info);
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

#[derive(Deserialize)]
pub(crate) struct RefreshBody {
    refresh_token: String,
}

pub(crate) async fn refresh(
    state: web::Data<AppState>,
    body: web::Json<RefreshBody>,
) -> Result<HttpResponse, ApiError> {
    let session = state.sessions.refresh(&body.refresh_token).await?;
    Ok(HttpResponse::Ok().json(SessionView::from(session)))
}

pub(crate) async fn logout(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, ApiError> {
    state.sessions.logout(&actor).await?;
    Ok(HttpResponse::NoContent().finish())
}
