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
    ),
    components(schemas(crate::error::FieldError)),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Sign-up, login, token refresh and logout"),
        (name = "devices", description = "The devices a user signed in from"),
        (name = "users", description = "Accounts and profiles"),
        (name = "admin", description = "User administration (admins only)"),
        (name = "comments", description = "Comments on videos"),
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
