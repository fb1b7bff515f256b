//! `/api/me` and `/api/users`: the caller's own account, public profiles, and the admin's
//! user management.

use actix_web::{HttpResponse, web};
use auth::{AccountChange, Password};
use domain::{PageRequest, Role, UserId, Username};
use serde::Deserialize;
use serde_json::json;

use crate::error::{ApiError, Fields};
use crate::extract::Authenticated;
use crate::routes::PageQuery;
use crate::state::AppState;
use crate::views::{UserView, encode_cursor};

pub(crate) async fn me(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let user = state.accounts.user(actor.user_id).await?;
    Ok(HttpResponse::Ok().json(UserView::new(&user, true)))
}

#[derive(Deserialize)]
pub(crate) struct MeChange {
    username: Option<String>,
    current_password: Option<String>,
    new_password: Option<String>,
}

pub(crate) async fn update_me(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: web::Json<MeChange>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let mut fields = Fields::default();
    let mut change = AccountChange::default();
    let mut broken = false;
    if let Some(name) = &body.username {
        change.username = fields.take(Username::parse(name));
        broken |= change.username.is_none();
    }
    match (body.current_password, body.new_password) {
        (None, None) => {}
        (Some(current), Some(new)) => match fields.take(Password::parse(&new)) {
            Some(new) => change.password = Some((current, new)),
            None => broken = true,
        },
        (None, Some(_)) => {
            fields.take::<()>(Err(domain::ValidationError::new(
                "current_password",
                "is required to change the password",
            )));
            broken = true;
        }
        (Some(_), None) => {
            fields.take::<()>(Err(domain::ValidationError::new(
                "new_password",
                "is required with current_password",
            )));
            broken = true;
        }
    }
    if broken {
        return Err(fields.error());
    }
    let user = state.accounts.update_own(&actor, change).await?;
    Ok(HttpResponse::Ok().json(UserView::new(&user, true)))
}

pub(crate) async fn show(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = UserId::from_uuid(id.into_inner());
    let user = state.accounts.user(id).await?;
    let private = state.accounts.may_view_private(&actor, id);
    Ok(HttpResponse::Ok().json(UserView::new(&user, private)))
}

#[derive(Deserialize)]
pub(crate) struct UserQuery {
    q: Option<String>,
    #[serde(flatten)]
    page: PageQuery,
}

pub(crate) async fn list(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    query: web::Query<UserQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let page: PageRequest<UserId> = query.page.to_request(UserId::from_uuid)?;
    let prefix = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if prefix.is_some_and(|q| q.chars().count() > 254) {
        return Err(ApiError::invalid("q", "must be at most 254 characters"));
    }
    let found = state.accounts.search(&actor, prefix, page).await?;
    let users: Vec<UserView> = found.items.iter().map(|u| UserView::new(u, true)).collect();
    Ok(HttpResponse::Ok().json(json!({
        "users": users,
        "next_cursor": found.next.map(|id| encode_cursor(id.as_uuid())),
    })))
}

#[derive(Deserialize)]
pub(crate) struct AdminChange {
    role: Option<String>,
    is_active: Option<bool>,
}

pub(crate) async fn administer(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<uuid::Uuid>,
    body: web::Json<AdminChange>,
) -> Result<HttpResponse, ApiError> {
    let id = UserId::from_uuid(id.into_inner());
    let body = body.into_inner();
    let role = match body.role.as_deref().map(str::parse::<Role>) {
        Some(Ok(role)) => Some(role),
        Some(Err(e)) => return Err(ApiError::fields(vec![e.into()])),
        None => None,
    };
    if role.is_none() && body.is_active.is_none() {
        return Err(ApiError::invalid("role", "give role and/or is_active"));
    }
    let mut user = state.accounts.user(id).await?;
    if let Some(role) = role {
        user = state.accounts.set_role(&actor, id, role).await?;
    }
    if let Some(active) = body.is_active {
        user = state.accounts.set_active(&actor, id, active).await?;
    }
    Ok(HttpResponse::Ok().json(UserView::new(&user, true)))
}
