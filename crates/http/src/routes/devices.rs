//! `/api/devices`: the caller's devices, and revoking one.

use actix_web::{HttpResponse, web};
use domain::DeviceRowId;

use crate::error::ApiError;
use crate::extract::Authenticated;
use crate::state::AppState;
use crate::views::{DeviceList, DeviceView};

#[utoipa::path(
    get,
    path = "/api/devices",
    tag = "devices",
    summary = "The caller's devices",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "devices", body = crate::views::DeviceList),
        (status = 401, description = "missing, invalid or expired access token", body = crate::error::Envelope)
    )
)]
pub(crate) async fn list(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let devices = state.sessions.devices(&actor).await?;
    Ok(HttpResponse::Ok().json(DeviceList {
        devices: devices
            .iter()
            .map(|d| DeviceView::new(d, d.id == actor.device))
            .collect(),
    }))
}

#[utoipa::path(
    delete,
    path = "/api/devices/{id}",
    tag = "devices",
    summary = "Revoke one of the caller's devices; its tokens stop working at once",
    params(("id" = uuid::Uuid, Path, description = "the device's id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "revoked"),
        (status = 404, description = "no such device of yours", body = crate::error::Envelope),
        (status = 401, description = "missing, invalid or expired access token", body = crate::error::Envelope)
    )
)]
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
