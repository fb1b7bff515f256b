//! The WebSocket transport at `/socket/websocket` (phoenix.js appends `/websocket` to the
//! endpoint it is given). Authentication happens before the upgrade: the access token comes
//! from the `token` query parameter or from phoenix.js's `authToken` subprotocol; anything
//! wrong (no or bad token, revoked device, deactivated user, a `vsn` other than 2.0.x) is
//! answered 403 and no socket is opened. After the upgrade this module only moves frames:
//! every protocol decision is the realtime crate's.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::SEC_WEBSOCKET_PROTOCOL;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use realtime::{OutboxReceiver, Session, SocketUser};
use tokio::time::{Instant, sleep_until};

use crate::error::ApiError;
use crate::state::AppState;

const AUTH_TOKEN_PREFIX: &str = "base64url.bearer.phx.";

fn refuse(message: &'static str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
}

/// The `authToken` phoenix.js sends as a subprotocol: standard base64 without padding
/// (decoded leniently: URL-safe and padded forms are accepted too).
fn token_from_subprotocol(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
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

pub(crate) async fn connect(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map_err(|_| refuse("malformed query string"))?
        .into_inner();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if !param("vsn").is_some_and(|v| v.starts_with("2.0.")) {
        return Err(refuse(
            "only the Phoenix V2 serializer (vsn=2.0.0) is supported",
        ));
    }
    let token = param("token")
        .map(str::to_owned)
        .or_else(|| token_from_subprotocol(&req))
        .ok_or_else(|| refuse("no access token"))?;
    let (actor, profile) =
        state
            .sessions
            .authenticate_profile(&token)
            .await
            .map_err(|e| match e {
                // The database is down: not the client's fault, and it should retry.
                auth::Error::Domain(d @ domain::Error::Unavailable { .. }) => ApiError::from(d),
                _ => refuse("invalid access token"),
            })?;
    let (response, ws, stream) = actix_ws::handle_with_protocols(&req, body, &["phoenix"])
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.to_string()))?;
    let (session, outbox) = state.realtime.open(SocketUser {
        actor,
        username: profile.username.to_string(),
        device_id: profile.device_id.to_string(),
    });
    let config = *state.realtime.config();
    actix_web::rt::spawn(run(
        session,
        outbox,
        ws,
        stream,
        config.idle_timeout,
        config.max_frame_bytes,
    ));
    Ok(response)
}

fn close(code: u16, description: &str) -> Option<CloseReason> {
    Some(CloseReason {
        code: CloseCode::from(code),
        description: Some(description.to_owned()),
    })
}

/// Moves frames until either side ends the connection; dropping the session afterwards
/// untracks its presence and unsubscribes it everywhere.
async fn run(
    mut session: Session,
    mut outbox: OutboxReceiver,
    mut ws: actix_ws::Session,
    stream: actix_ws::MessageStream,
    idle: Duration,
    max_frame: usize,
) {
    let mut stream = stream
        .max_frame_size(max_frame)
        .aggregate_continuations()
        .max_continuation_size(max_frame);
    let mut deadline = Instant::now() + idle;
    let reason = loop {
        tokio::select! {
            biased;
            changed = outbox.kicked.changed() => {
                let kicked = *outbox.kicked.borrow();
                match (changed, kicked) {
                    (Ok(()), Some(reason)) => break close(reason.code(), reason.as_str()),
                    (Ok(()), None) => continue,
                    (Err(_), _) => break close(1011, "server error"),
                }
            }
            message = stream.recv() => match message {
                Some(Ok(AggregatedMessage::Text(text))) => {
                    deadline = Instant::now() + idle;
                    match session.receive(&text).await {
                        Ok(frames) => {
                            let mut open = true;
                            for frame in frames {
                                if ws.text(frame).await.is_err() {
                                    open = false;
                                    break;
                                }
                            }
                            if !open {
                                break None;
                            }
                        }
                        Err(fatal) => {
                            tracing::info!(socket.id = session.id(), reason = %fatal, "closing socket: bad frame");
                            break close(fatal.code, &fatal.reason);
                        }
                    }
                }
                Some(Ok(AggregatedMessage::Binary(_))) => {
                    tracing::info!(socket.id = session.id(), "closing socket: binary frame");
                    break close(1003, "binary frames are not supported");
                }
                Some(Ok(AggregatedMessage::Ping(bytes))) => {
                    deadline = Instant::now() + idle;
                    if ws.pong(&bytes).await.is_err() {
                        break None;
                    }
                }
                Some(Ok(AggregatedMessage::Pong(_))) => deadline = Instant::now() + idle,
                Some(Ok(AggregatedMessage::Close(_))) | None => break None,
                Some(Err(e)) => {
                    tracing::info!(socket.id = session.id(), error = %e, "closing socket: protocol error");
                    break close(1009, "frame too large or malformed");
                }
            },
            Some(frame) = outbox.frames.recv() => {
                if ws.text(frame).await.is_err() {
                    break None;
                }
            }
            () = sleep_until(deadline) => break close(1001, "idle timeout"),
        }
    };
    drop(session);
    let _ = ws
        .close(reason.or(Some(CloseReason {
            code: CloseCode::Normal,
            description: None,
        })))
        .await;
}
