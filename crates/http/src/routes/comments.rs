//! `/api/videos/{video_id}/comments` and `/api/comments/{id}`: reading, posting, editing
//! and deleting comments through the same use case the WebSocket side calls.

use actix_web::{HttpResponse, web};
use domain::{ClientId, CommentBody, CommentId, PageRequest, VideoId};
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::{Authenticated, JsonObject};
use crate::routes::PageQuery;
use crate::state::AppState;
use crate::views::{CommentPage, encode_cursor};

fn video(raw: &str) -> Result<VideoId, ApiError> {
    VideoId::parse(raw).map_err(|e| ApiError::fields(vec![e.into()]))
}

fn body(raw: &str) -> Result<CommentBody, ApiError> {
    CommentBody::parse(raw).map_err(|e| ApiError::fields(vec![e.into()]))
}

#[utoipa::path(
    get,
    path = "/api/videos/{video_id}/comments",
    tag = "comments",
    summary = "Comments on a video, newest first",
    params(("video_id" = String, Path, description = "1-64 letters, digits, _ or -"), super::PageQuery),
    responses(
        (status = 200, description = "a page of comments", body = crate::views::CommentPage),
        (status = 422, description = "invalid video id, limit or cursor", body = crate::error::Envelope)
    )
)]
pub(crate) async fn list(
    state: web::Data<AppState>,
    video_id: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let video = video(&video_id)?;
    let page: PageRequest<CommentId> = query.into_inner().into_request(CommentId::from_uuid)?;
    let found = state.comments.list(&video, page).await?;
    Ok(HttpResponse::Ok().json(CommentPage {
        comments: found.items,
        next_cursor: found.next.map(|id| encode_cursor(id.as_uuid())),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct ContentBody {
    /// Trimmed; 1 to 2000 characters; no control characters but newline and tab.
    #[schema(min_length = 1, max_length = 2000)]
    content: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct NewCommentBody {
    /// Trimmed; 1 to 2000 characters; no control characters but newline and tab.
    #[schema(min_length = 1, max_length = 2000)]
    content: String,
    /// Your own id for this comment: posting again with the same id returns the first
    /// comment instead of a duplicate (safe retries).
    #[schema(pattern = "^[A-Za-z0-9_.:-]{1,64}$")]
    client_id: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/videos/{video_id}/comments",
    tag = "comments",
    summary = "Post a comment",
    request_body = NewCommentBody,
    params(("video_id" = String, Path, description = "1-64 letters, digits, _ or -")),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "posted", body = crate::views::CommentView),
        (status = 403, description = "not allowed", body = crate::error::Envelope),
        (status = 429, description = "rate limited; see Retry-After", body = crate::error::Envelope),
        (status = 401, description = "missing, invalid or expired access token", body = crate::error::Envelope),
        (status = 400, description = "malformed JSON", body = crate::error::Envelope),
        (status = 413, description = "body too large", body = crate::error::Envelope),
        (status = 415, description = "not application/json", body = crate::error::Envelope),
        (status = 422, description = "invalid fields", body = crate::error::Envelope)
    )
)]
pub(crate) async fn create(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    video_id: web::Path<String>,
    payload: JsonObject<NewCommentBody>,
) -> Result<HttpResponse, ApiError> {
    let video = video(&video_id)?;
    let content = body(&payload.content)?;
    let client_id = match payload.client_id.as_deref() {
        Some(raw) => Some(ClientId::parse(raw).map_err(|e| ApiError::fields(vec![e.into()]))?),
        None => None,
    };
    let comment = state
        .comments
        .post(&actor, video, content, client_id)
        .await?;
    Ok(HttpResponse::Created().json(&comment))
}

#[utoipa::path(
    get,
    path = "/api/comments/{id}",
    tag = "comments",
    summary = "One comment",
    params(("id" = uuid::Uuid, Path, description = "comment id")),
    responses(
        (status = 200, description = "the comment", body = crate::views::CommentView),
        (status = 404, description = "no such comment", body = crate::error::Envelope)
    )
)]
pub(crate) async fn show(
    state: web::Data<AppState>,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let comment = state
        .comments
        .get(CommentId::from_uuid(id.into_inner()))
        .await?;
    Ok(HttpResponse::Ok().json(&comment))
}

#[utoipa::path(
    patch,
    path = "/api/comments/{id}",
    tag = "comments",
    summary = "Edit your comment",
    request_body = ContentBody,
    params(("id" = uuid::Uuid, Path, description = "comment id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "edited", body = crate::views::CommentView),
        (status = 403, description = "not yours", body = crate::error::Envelope),
        (status = 404, description = "no such comment", body = crate::error::Envelope),
        (status = 401, description = "missing, invalid or expired access token", body = crate::error::Envelope),
        (status = 400, description = "malformed JSON", body = crate::error::Envelope),
        (status = 413, description = "body too large", body = crate::error::Envelope),
        (status = 415, description = "not application/json", body = crate::error::Envelope),
        (status = 422, description = "invalid fields", body = crate::error::Envelope)
    )
)]
pub(crate) async fn update(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<uuid::Uuid>,
    payload: JsonObject<ContentBody>,
) -> Result<HttpResponse, ApiError> {
    let content = body(&payload.content)?;
    let comment = state
        .comments
        .edit(&actor, CommentId::from_uuid(id.into_inner()), content)
        .await?;
    Ok(HttpResponse::Ok().json(&comment))
}

#[utoipa::path(
    delete,
    path = "/api/comments/{id}",
    tag = "comments",
    summary = "Delete a comment (yours; moderators and admins: any)",
    params(("id" = uuid::Uuid, Path, description = "comment id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "deleted"),
        (status = 403, description = "not allowed", body = crate::error::Envelope),
        (status = 404, description = "no such comment", body = crate::error::Envelope),
        (status = 401, description = "missing, invalid or expired access token", body = crate::error::Envelope)
    )
)]
pub(crate) async fn delete(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    state
        .comments
        .delete(&actor, CommentId::from_uuid(id.into_inner()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
