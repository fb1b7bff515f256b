//! `/api/videos/{video_id}/comments` and `/api/comments/{id}`: reading, posting, editing
//! and deleting comments through the same use case the WebSocket side calls.

use actix_web::{HttpResponse, web};
use domain::{CommentBody, CommentId, PageRequest, VideoId};
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::extract::Authenticated;
use crate::routes::PageQuery;
use crate::state::AppState;
use crate::views::{CommentView, encode_cursor};

fn video(raw: &str) -> Result<VideoId, ApiError> {
    VideoId::parse(raw).map_err(|e| ApiError::fields(vec![e.into()]))
}

fn body(raw: &str) -> Result<CommentBody, ApiError> {
    CommentBody::parse(raw).map_err(|e| ApiError::fields(vec![e.into()]))
}

pub(crate) async fn list(
    state: web::Data<AppState>,
    video_id: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let video = video(&video_id)?;
    let page: PageRequest<CommentId> = query.into_inner().to_request(CommentId::from_uuid)?;
    let found = state.comments.list(&video, page).await?;
    let comments: Vec<CommentView> = found.items.iter().map(CommentView::from).collect();
    Ok(HttpResponse::Ok().json(json!({
        "comments": comments,
        "next_cursor": found.next.map(|id| encode_cursor(id.as_uuid())),
    })))
}

#[derive(Deserialize)]
pub(crate) struct ContentBody {
    content: String,
}

pub(crate) async fn create(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    video_id: web::Path<String>,
    payload: web::Json<ContentBody>,
) -> Result<HttpResponse, ApiError> {
    let video = video(&video_id)?;
    let content = body(&payload.content)?;
    let comment = state.comments.post(&actor, video, content).await?;
    Ok(HttpResponse::Created().json(CommentView::from(&comment)))
}

pub(crate) async fn show(
    state: web::Data<AppState>,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let comment = state
        .comments
        .get(CommentId::from_uuid(id.into_inner()))
        .await?;
    Ok(HttpResponse::Ok().json(CommentView::from(&comment)))
}

pub(crate) async fn update(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<uuid::Uuid>,
    payload: web::Json<ContentBody>,
) -> Result<HttpResponse, ApiError> {
    let content = body(&payload.content)?;
    let comment = state
        .comments
        .edit(&actor, CommentId::from_uuid(id.into_inner()), content)
        .await?;
    Ok(HttpResponse::Ok().json(CommentView::from(&comment)))
}

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
