//! The WebSocket handshake at `/socket/websocket` (phoenix.js appends `/websocket` to the
//! endpoint it is given). Authentication happens before the upgrade: the access token comes
//! from the `token` query parameter or from phoenix.js's `authToken` subprotocol; anything
//! wrong (no or bad token, revoked device, deactivated user, a `vsn` other than 2.0.x) is
//! answered 403 and no socket is opened; a database outage is 503, so clients retry.
//!
//! actix-http hands every request with `Upgrade: websocket` (and every CONNECT) to
//! [`upgrade`] together with the connection itself; anything but a GET is answered 405.
//! Once the 101 is written, the TCP stream is taken out of actix-http and run by
//! `connection`; actix-http's per-connection state is freed.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use actix_codec::Framed;
use actix_http::body::{BodySize, MessageBody};
use actix_http::h1::{self, Message};
use actix_http::{ConnectionType, Method, Request, RequestHead, Response, ws};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, SEC_WEBSOCKET_PROTOCOL};
use actix_web::{HttpRequest, ResponseError, web};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use futures_util::SinkExt;
use realtime::{Refused, SocketUser};
use tokio::net::TcpStream;
use tracing::Instrument;

use super::connection::{self, Limits};
use crate::error::ApiError;
use crate::middleware::{metrics, request_id};
use crate::state::AppState;

/// Where phoenix.js connects (its endpoint `/socket` plus `/websocket`).
pub(crate) const PATH: &str = "/socket/websocket";
const AUTH_TOKEN_PREFIX: &str = "base64url.bearer.phx.";
const PHOENIX_SUBPROTOCOL: &str = "phoenix";

fn refuse(message: &'static str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
}

/// A client allowed in, decided from the request head alone.
struct Admission {
    user: SocketUser,
    /// The client offered the `phoenix` subprotocol, so the 101 must name it.
    phoenix_subprotocol: bool,
    /// When its access token expires; the socket is closed then (4001).
    token_expires: tokio::time::Instant,
}

/// The answer to an upgrade over a socket limit: the node's own limit is 503 (try again,
/// maybe on another node), a user's or an address's is 429.
fn refusal(refused: Refused) -> ApiError {
    match refused {
        Refused::NodeFull => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            refused.to_string(),
        ),
        Refused::TooManyForUser | Refused::TooManyForAddress => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_sockets",
            refused.to_string(),
        ),
    }
}

fn refused_label(refused: Refused) -> &'static str {
    match refused {
        Refused::NodeFull => "node",
        Refused::TooManyForUser => "user",
        Refused::TooManyForAddress => "address",
    }
}

/// Whether `vsn` names the Phoenix V2 serializer: `2.0.<digits>`.
fn is_v2(vsn: &str) -> bool {
    vsn.strip_prefix("2.0.")
        .is_some_and(|patch| !patch.is_empty() && patch.bytes().all(|b| b.is_ascii_digit()))
}

fn subprotocols(head: &RequestHead) -> impl Iterator<Item = &str> {
    head.headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
}

/// The `authToken` phoenix.js sends as a subprotocol: standard base64 without padding
/// (decoded leniently: URL-safe and padded forms are accepted too).
fn token_from_subprotocol(head: &RequestHead) -> Option<String> {
    subprotocols(head)
        .find_map(|p| p.strip_prefix(AUTH_TOKEN_PREFIX))
        .and_then(|encoded| {
            let trimmed = encoded.trim_end_matches('=');
            STANDARD_NO_PAD
                .decode(trimmed)
                .or_else(|_| URL_SAFE_NO_PAD.decode(trimmed))
                .ok()
        })
        .and_then(|bytes| String::from_utf8(bytes).ok())
}

async fn admit(head: &RequestHead, state: &AppState) -> Result<Admission, ApiError> {
    // A browser page from another origin must not open sockets with a token it got hold
    // of (Phoenix's check_origin).
    if !state.browser.allowed_origins.admit(&head.headers) {
        return Err(refuse(
            "this origin may not open sockets (RTS_CORS_ALLOWED_ORIGINS lists the allowed ones)",
        ));
    }
    let query =
        web::Query::<Vec<(String, String)>>::from_query(head.uri.query().unwrap_or_default())
            .map_err(|_| refuse("malformed query string"))?
            .into_inner();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if !param("vsn").is_some_and(is_v2) {
        return Err(refuse(
            "only the Phoenix V2 serializer (vsn=2.0.0) is supported",
        ));
    }
    let token = param("token")
        .map(str::to_owned)
        .or_else(|| token_from_subprotocol(head))
        .ok_or_else(|| refuse("no access token"))?;
    let (actor, profile, expires_at) =
        state
            .sessions
            .authenticate_socket(&token)
            .await
            .map_err(|e| match e {
                // The database is down: not the client's fault, and it should retry.
                auth::Error::Domain(d @ domain::Error::Unavailable { .. }) => ApiError::from(d),
                _ => refuse("invalid access token"),
            })?;
    Ok(Admission {
        user: SocketUser {
            actor,
            device_id: profile.device_id.to_string(),
        },
        phoenix_subprotocol: subprotocols(head).any(|p| p == PHOENIX_SUBPROTOCOL),
        token_expires: deadline(expires_at),
    })
}

/// The monotonic instant of a wall-clock expiry (at once if it is already past).
fn deadline(at: std::time::SystemTime) -> tokio::time::Instant {
    let left = at
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    tokio::time::Instant::now() + left
}

/// `GET /socket/websocket` without `Upgrade: websocket`: the same checks, then 400.
pub(crate) async fn without_upgrade(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<actix_web::HttpResponse, ApiError> {
    admit(req.head(), &state).await?;
    Err(ApiError::new(
        StatusCode::BAD_REQUEST,
        "bad_request",
        "expected a WebSocket upgrade (Connection: Upgrade, Upgrade: websocket)",
    ))
}

/// Answers an upgrade request: 101 and a running socket, or an error envelope and a
/// closed connection. Never fails: whatever goes wrong is answered or logged here. These
/// requests never reach the routes, so the request id, the access log line and the
/// latency histogram are done here, as the middleware does them for the routes.
pub(crate) async fn upgrade(
    req: Request,
    framed: Framed<TcpStream, h1::Codec>,
    state: AppState,
) -> Result<(), actix_web::Error> {
    let started = Instant::now();
    let head = req.head();
    let id = request_id::of(&head.headers);
    let path = head.uri.path().to_owned();
    let method = head.method.to_string();
    let span = request_id::span(&id, &head.method, &path);
    let status = answer(req, framed, state, &id)
        .instrument(span.clone())
        .await;
    let route = if path == PATH {
        PATH
    } else {
        metrics::UNMATCHED
    };
    metrics::record(
        route.to_owned(),
        method,
        status.as_str().to_owned(),
        started,
    );
    request_id::log_finished(&span, request_id::is_quiet(&path), status.as_u16(), started);
    Ok(())
}

/// The handshake itself; returns the status it answered with.
async fn answer(
    req: Request,
    mut framed: Framed<TcpStream, h1::Codec>,
    state: AppState,
    id: &str,
) -> StatusCode {
    let head = req.head();
    // actix-http hands over CONNECT requests too, and upgrades asked with any method.
    let admitted = if head.method != Method::GET {
        Err(ApiError::for_status(StatusCode::METHOD_NOT_ALLOWED))
    } else if head.uri.path() != PATH {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no WebSocket endpoint here; phoenix.js connects to /socket/websocket",
        ))
    } else {
        admit(head, &state).await
    };
    let admission = match admitted {
        Ok(admission) => admission,
        Err(err) => return respond_and_close(framed, &err, id).await,
    };
    let mut response = match ws::handshake(head) {
        Ok(builder) => builder,
        Err(e) => {
            let err = ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.to_string());
            return respond_and_close(framed, &err, id).await;
        }
    };
    // Counted against the socket limits before the 101, so a refusal is a plain answer.
    let peer = framed
        .io_ref()
        .peer_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
    let address = state.trusted_proxies.client(peer, &head.headers);
    let opened = match state.realtime.open(admission.user, address) {
        Ok(opened) => opened,
        Err(refused) => {
            ::metrics::counter!(
                "realtime_sockets_refused_total",
                "reason" => refused_label(refused)
            )
            .increment(1);
            return respond_and_close(framed, &refusal(refused), id).await;
        }
    };
    if admission.phoenix_subprotocol {
        response.insert_header((SEC_WEBSOCKET_PROTOCOL, PHOENIX_SUBPROTOCOL));
    }
    response.insert_header((request_id::X_REQUEST_ID, id));
    let response = response.finish().drop_body();
    let status = response.status();
    if framed
        .send(Message::Item((response, BodySize::None)))
        .await
        .is_err()
    {
        return status;
    }
    let parts = framed.into_parts();
    // Broadcasts are small frames that must leave at once: no Nagle delay.
    let _ = parts.io.set_nodelay(true);
    // Copy what the client sent after its request (usually nothing) rather than keep
    // actix-http's 8 KiB read buffer alive for the life of the socket.
    let leftover = bytes::BytesMut::from(&parts.read_buf[..]);
    tracing::debug!(socket.id = opened.session.id(), "socket opened");
    let config = state.realtime.config();
    let limits = Limits {
        idle: config.idle_timeout,
        max_frame: config.max_frame_bytes,
        token_expires: admission.token_expires,
    };
    // A task of its own, so actix-http's connection future (and all it holds) ends now.
    actix_web::rt::spawn(connection::run(parts.io, leftover, opened, limits));
    status
}

/// Writes `err` as the usual JSON envelope and closes the connection; returns its status.
async fn respond_and_close(
    mut framed: Framed<TcpStream, h1::Codec>,
    err: &ApiError,
    id: &str,
) -> StatusCode {
    let mut response: Response<_> = err.error_response().into();
    if let Ok(value) = HeaderValue::from_str(id) {
        response
            .headers_mut()
            .insert(request_id::X_REQUEST_ID, value);
    }
    let status = response.status();
    if status == StatusCode::METHOD_NOT_ALLOWED {
        // RFC 9110: a 405 names the methods that are allowed.
        response.headers_mut().insert(
            actix_web::http::header::ALLOW,
            HeaderValue::from_static("GET"),
        );
    }
    let (mut head, body) = response.into_parts();
    let body = body.try_into_bytes().unwrap_or_default();
    head.head_mut().set_connection_type(ConnectionType::Close);
    let _ = framed
        .send(Message::Item((head, BodySize::Sized(body.len() as u64))))
        .await;
    let _ = framed.send(Message::Chunk(Some(body))).await;
    let _ = framed.send(Message::Chunk(None)).await;
    status
}
