//! `/api/devices`: the caller's devices, and revoking one.

use actix_web::{HttpResponse, web};
use domain::DeviceRowId;

use crate::error::ApiError;
use crate::extract::Authenticated;
use crate::state::AppState;
use crate::views::DeviceView;

pub(crate) async fn list(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let devices = state.sessions.devices(&actor).await?;
    let views: Vec<DeviceView> = devices
        .iter()
        .map(|d| DeviceView::new(d, d.id == actor.device))
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "devices": views })))
}

pub(crate) async fn revoke(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    state
        .sessions
        .revoke_device(&actor, DeviceRowId::from_uuid(id.into_inner()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
