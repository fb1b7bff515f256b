//! The last line of the error envelope: any error response that reached the client
//! without a JSON body (405 from the router, 413 from a payload limit, a 500 from deep
//! inside actix) is given the envelope for its status.

use actix_web::ResponseError;
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::CONTENT_TYPE;
use actix_web::middleware::Next;

use crate::error::ApiError;

pub(crate) async fn envelope(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, BoxBody>>, actix_web::Error> {
    let res = next.call(req).await?;
    let status = res.status();
    let is_json = res
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return Ok(res.map_into_left_body());
    }
    let (req, _) = res.into_parts();
    let replacement = ApiError::for_status(status).error_response();
    Ok(ServiceResponse::new(req, replacement).map_into_right_body())
}
