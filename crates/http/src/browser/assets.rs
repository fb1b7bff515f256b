//! The web client's files (web/ in the repository), embedded in the binary at build time so
//! `realtime-server serve` alone serves them, or read from a folder per request when one is
//! given (`RTS_WEB_DIR`, for editing the page without rebuilding). Every answer carries the
//! page's security headers; embedded files carry an `ETag`, so a reload costs a 304.

use std::borrow::Cow;
use std::path::{Component, Path, PathBuf};

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::ApiError;
use crate::state::AppState;

#[derive(rust_embed::Embed)]
#[folder = "../../web"]
#[exclude = "*.md"]
struct Embedded;

/// What a browser may do on these pages: only this origin's scripts, styles, images and
/// connections (REST and the socket), nothing inline, no framing, no plugins.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'; object-src 'none'";

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" | "map" => "application/json",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// `GET /`: the page.
pub(crate) async fn index(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    serve(&req, &state, "index.html")
}

/// `GET /assets/{path}`.
pub(crate) async fn asset(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    serve(&req, &state, &format!("assets/{}", path.into_inner()))
}

fn serve(req: &HttpRequest, state: &AppState, path: &str) -> Result<HttpResponse, ApiError> {
    let (body, etag): (Cow<'static, [u8]>, Option<String>) = match &state.browser.web_dir {
        Some(dir) => (Cow::Owned(read_from(dir, path)?), None),
        None => {
            let file = Embedded::get(path).ok_or_else(ApiError::not_found)?;
            let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..16]));
            (file.data, Some(etag))
        }
    };
    let not_modified = etag.as_deref().is_some_and(|etag| {
        req.headers()
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    });
    let mut response = if not_modified {
        HttpResponse::build(StatusCode::NOT_MODIFIED)
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::CONTENT_TYPE, content_type(path)))
        // Revalidated on every load: names carry no hash, so a new build must show.
        .insert_header((header::CACHE_CONTROL, "no-cache"));
    if let Some(etag) = etag {
        response.insert_header((header::ETAG, etag));
    }
    // The page's security headers come from `browser::security_headers`, 404s included.
    Ok(if not_modified {
        response.finish()
    } else {
        response.body(body.into_owned())
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `path` under `dir`, refusing anything that would leave it.
fn read_from(dir: &Path, path: &str) -> Result<Vec<u8>, ApiError> {
    let relative = Path::new(path);
    if !relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return Err(ApiError::not_found());
    }
    let full: PathBuf = dir.join(relative);
    std::fs::read(&full).map_err(|_| ApiError::not_found())
}

/// Adds the page's security headers (every answer of `/` and `/assets/` gets them from
/// the `security_headers` middleware).
pub(crate) fn secure(headers: &mut actix_web::http::header::HeaderMap) {
    let set = |headers: &mut actix_web::http::header::HeaderMap,
               name: header::HeaderName,
               value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        CONTENT_SECURITY_POLICY,
    );
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(
        headers,
        header::HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_leave_the_folder_are_not_found() {
        let dir = std::env::temp_dir();
        for bad in ["../etc/passwd", "/etc/passwd", "assets/../../x", "./x"] {
            assert!(read_from(&dir, bad).is_err(), "{bad} was read");
        }
    }

    #[test]
    fn the_page_is_embedded() {
        assert!(Embedded::get("index.html").is_some());
        assert_eq!(
            content_type("assets/app.mjs"),
            "text/javascript; charset=utf-8"
        );
    }
}
