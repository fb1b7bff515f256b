//! `/api/me` and `/api/users`: the caller's own account, public profiles, and the admin's
//! user management.

use actix_web::{HttpResponse, web};
use auth::{AccountChange, Password};
use domain::{PageRequest, Role, UserId, Username};
use serde::Deserialize;

use crate::error::{ApiError, Fields};
use crate::extract::{Authenticated, JsonObject};
use crate::routes::PageQuery;
use crate::state::AppState;
use crate::views::{UserPage, UserView, encode_cursor};

#[utoipa::path(
    get,
    path = "/api/me",
    tag = "users",
    summary = "The caller's account",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the account", body = crate::views::UserView),
        (status = 401, description = "missing, invalid or expired access token", body = crate::error::Envelope)
    )
)]
pub(crate) async fn me(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let user = state.accounts.me(&actor).await?;
    Ok(HttpResponse::Ok().json(UserView::new(&user, true)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct MeChange {
    #[schema(pattern = "^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$")]
    username: Option<String>,
    current_password: Option<String>,
    new_password: Option<String>,
}

#[utoipa::path(
    patch,
    path = "/api/me",
    tag = "users",
    summary = "Change username and/or password (needs current_password)",
    request_body = MeChange,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "changed", body = crate::views::UserView),
        (status = 403, description = "current password is wrong", body = crate::error::Envelope),
        (status = 409, description = "username taken", body = crate::error::Envelope),
        (status = 401, description = "missing, invalid or expired access token", body = crate::error::Envelope),
        (status = 400, description = "malformed JSON", body = crate::error::Envelope),
        (status = 413, description = "body too large", body = crate::error::Envelope),
        (status = 415, description = "not application/json", body = crate::error::Envelope),
        (status = 422, description = "invalid fields", body = crate::error::Envelope)
    )
)]
pub(crate) async fn update_me(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: JsonObject<MeChange>,
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
        (Some(current), Some(new)) => match fields.take(
            Password::parse(&new)
                .map_err(|e| domain::ValidationError::new("new_password", e.message)),
        ) {
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

#[utoipa::path(
    get,
    path = "/api/users/{id}",
    tag = "users",
    summary = "A user's profile (private fields for self and admins)",
    params(("id" = uuid::Uuid, Path, description = "user id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the user", body = crate::views::UserView),
        (status = 404, description = "no such user", body = crate::error::Envelope),
        (status = 401, description = "missing, invalid or expired access token", body = crate::error::Envelope)
    )
)]
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

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct UserQuery {
    /// Only users whose username or email starts with this.
    q: Option<String>,
    /// Items per page, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u16>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/users",
    tag = "admin",
    summary = "Users, newest first (admins)",
    params(UserQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "a page of users", body = crate::views::UserPage),
        (status = 403, description = "not an admin", body = crate::error::Envelope),
        (status = 422, description = "invalid query", body = crate::error::Envelope),
        (status = 401, description = "missing, invalid or expired access token", body = crate::error::Envelope)
    )
)]
pub(crate) async fn list(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    query: web::Query<UserQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let page: PageRequest<UserId> = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .into_request(UserId::from_uuid)?;
    let prefix = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if prefix.is_some_and(|q| q.chars().count() > 254) {
        return Err(ApiError::invalid("q", "must be at most 254 characters"));
    }
    let found = state.accounts.search(&actor, prefix, page).await?;
    Ok(HttpResponse::Ok().json(UserPage {
        users: found.items.iter().map(|u| UserView::new(u, true)).collect(),
        next_cursor: found.next.map(|id| encode_cursor(id.as_uuid())),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct AdminChange {
    #[schema(pattern = "^(user|moderator|admin)$")]
    role: Option<String>,
    is_active: Option<bool>,
}

#[utoipa::path(
    patch,
    path = "/api/users/{id}",
    tag = "admin",
    summary = "Change a user's role or activity (admins, not on themselves)",
    request_body = AdminChange,
    params(("id" = uuid::Uuid, Path, description = "user id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "changed", body = crate::views::UserView),
        (status = 403, description = "not allowed", body = crate::error::Envelope),
        (status = 404, description = "no such user", body = crate::error::Envelope),
        (status = 401, description = "missing, invalid or expired access token", body = crate::error::Envelope),
        (status = 400, description = "malformed JSON", body = crate::error::Envelope),
        (status = 413, description = "body too large", body = crate::error::Envelope),
        (status = 415, description = "not application/json", body = crate::error::Envelope),
        (status = 422, description = "invalid fields", body = crate::error::Envelope)
    )
)]
pub(crate) async fn administer(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<uuid::Uuid>,
    body: JsonObject<AdminChange>,
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
    let mut changed = None;
    if let Some(role) = role {
        changed = Some(state.accounts.set_role(&actor, id, role).await?);
    }
    if let Some(active) = body.is_active {
        changed = Some(state.accounts.set_active(&actor, id, active).await?);
    }
    let user = match changed {
        Some(user) => user,
        None => state.accounts.user(id).await?,
    };
    Ok(HttpResponse::Ok().json(UserView::new(&user, true)))
}
