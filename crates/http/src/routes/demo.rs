//! `/api/demo`: whether this database holds the demo data, and if so its logins and
//! videos, so the web client shows them where they work and nowhere else.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use domain::Role;
use domain::ports::DemoData;
use serde::Serialize;

use crate::error::ApiError;
use crate::state::AppState;

/// The demo data `realtime-server seed` writes, and how to find out whether it did.
#[derive(Clone)]
pub struct DemoHints {
    /// Whether the seed has run on this database.
    pub seeded: Arc<dyn DemoData>,
    /// The password of every demo user.
    pub password: &'static str,
    /// The demo users' emails and roles.
    pub users: Vec<(String, Role)>,
    /// The demo videos.
    pub videos: Vec<String>,
}

impl std::fmt::Debug for DemoHints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoHints")
            .field("users", &self.users)
            .field("videos", &self.videos)
            .finish_non_exhaustive()
    }
}

/// `{"seeded": false}`, or the demo logins and videos.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct DemoView {
    /// True once `realtime-server seed` has run on this server's database.
    seeded: bool,
    /// The password of every demo user (only when seeded).
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    users: Vec<DemoUser>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    videos: Vec<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct DemoUser {
    email: String,
    #[schema(value_type = String, example = "user")]
    role: &'static str,
}

#[utoipa::path(
    get,
    path = "/api/demo",
    tag = "demo",
    summary = "Whether demo data is seeded here, and its logins and videos if so",
    responses(
        (status = 200, description = "seeded or not", body = DemoView),
        (status = 503, description = "the database is unavailable", body = crate::error::Envelope)
    )
)]
pub(crate) async fn hints(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let demo = &state.demo;
    let view = if demo.seeded.seeded().await? {
        DemoView {
            seeded: true,
            password: Some(demo.password),
            users: demo
                .users
                .iter()
                .map(|(email, role)| DemoUser {
                    email: email.clone(),
                    role: role.as_str(),
                })
                .collect(),
            videos: demo.videos.clone(),
        }
    } else {
        DemoView {
            seeded: false,
            password: None,
            users: Vec::new(),
            videos: Vec::new(),
        }
    };
    Ok(HttpResponse::Ok().json(view))
}
