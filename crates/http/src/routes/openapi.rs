//! `/api/openapi.json`: the OpenAPI 3.1 document, generated from the route annotations and
//! the view types, so it cannot drift from the code.

use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "realtime-server",
        description = "Live comment rooms for videos: accounts, devices, users and comments. See docs/api.md."
    ),
    paths(
        super::auth::register,
        super::auth::login,
        super::auth::refresh,
        super::auth::logout,
        super::devices::list,
        super::devices::revoke,
        super::users::me,
        super::users::update_me,
        super::users::show,
        super::users::list,
        super::users::administer,
        super::comments::list,
        super::comments::create,
        super::comments::show,
        super::comments::update,
        super::comments::delete,
        super::demo::hints,
    ),
    components(schemas(crate::error::FieldError)),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Sign-up, login, token refresh and logout"),
        (name = "devices", description = "The devices a user signed in from"),
        (name = "users", description = "Accounts and profiles"),
        (name = "admin", description = "User administration (admins only)"),
        (name = "comments", description = "Comments on videos"),
        (name = "demo", description = "Demo data, when `realtime-server seed` has run"),
    )
)]
pub(crate) struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

pub(crate) async fn document() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use domain::{Comment, CommentBody, CommentId, UserId, Username, VideoId};

    /// The document describes the comment the serializer writes: the same fields, all of
    /// them required, each of the type it is written as.
    #[test]
    fn the_comment_schema_matches_the_one_serializer() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let schema = &doc["components"]["schemas"]["Comment"];
        let now = chrono::Utc::now();
        let comment = Comment {
            id: CommentId::generate(),
            video_id: VideoId::parse("v1").unwrap(),
            user_id: UserId::generate(),
            username: Username::parse("ann").unwrap(),
            body: CommentBody::parse("hello").unwrap(),
            inserted_at: now,
            updated_at: now,
            position: 3,
            version: 1,
        };
        let written = serde_json::to_value(&comment).unwrap();
        let written = written.as_object().unwrap();
        let properties = schema["properties"]
            .as_object()
            .expect("Comment properties");
        let mut documented: Vec<&String> = properties.keys().collect();
        let mut keys: Vec<&String> = written.keys().collect();
        documented.sort();
        keys.sort();
        assert_eq!(documented, keys);
        let mut required: Vec<&str> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        required.sort();
        assert_eq!(
            required,
            keys.iter().map(|k| k.as_str()).collect::<Vec<_>>()
        );
        for (key, value) in written {
            let kind = if value.is_u64() { "integer" } else { "string" };
            assert_eq!(properties[key]["type"], kind, "{key}");
            assert!(value.is_string() || value.is_u64(), "{key}");
        }
    }
}
