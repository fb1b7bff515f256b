//! The HTTP/1 server: accepts connections, journals each request, applies faults, and hands
//! the rest to the database or token endpoint.

use std::sync::Arc;

use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::Response;
use hyper::body::{Bytes, Incoming as Body};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::fault::{self, FaultKind, Target};
use crate::incoming::Incoming;
use crate::journal::Endpoint;
use crate::reply::Reply;
use crate::state::Shared;
use crate::{database, token};

/// The largest request body read (the real limit is 256 MB).
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Returned from the service to make hyper close the connection without a response.
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for DropConnection {}

/// Serves connections until `shutdown` fires (or its sender is dropped).
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: oneshot::Receiver<()>,
) {
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else {
            // Out of file descriptors or similar: don't spin.
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = service_fn(move |request| respond(request, Arc::clone(&shared)));
            // Connection errors (client resets, dropped faults) need no handling.
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn respond(
    request: hyper::Request<Body>,
    shared: Arc<Shared>,
) -> Result<Response<Full<Bytes>>, DropConnection> {
    let (parts, body) = request.into_parts();
    let (body, too_large) = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => (collected.to_bytes(), false),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => (Bytes::new(), true),
        Err(_) => return Err(DropConnection),
    };
    let incoming = Incoming::new(&parts, body, &shared.config.secret);
    let mut release = shared.release.subscribe();
    let target = match incoming.endpoint {
        Endpoint::Database => Target::Database,
        Endpoint::Token => Target::Token,
    };
    let (id, fault) = {
        let mut state = shared.lock();
        let id = state.record(incoming.journal_entry());
        let fault = fault::take(
            &mut state.faults,
            target,
            &incoming.method,
            &incoming.node_path(),
        );
        (id, fault)
    };
    let faulted = match fault {
        None => None,
        Some(FaultKind::DropConnection) => return Err(DropConnection),
        Some(FaultKind::Hang) => {
            // Ends when released; a client that gives up closes the connection, and hyper
            // then drops this future.
            let _ = release.changed().await;
            Some(Reply::error(
                503,
                "Service Unavailable (a hung request released by firebase-fake)",
            ))
        }
        Some(FaultKind::Latency(delay)) => {
            tokio::time::sleep(delay).await;
            None
        }
        Some(FaultKind::Status(code)) => Some(Reply::fault(code)),
        Some(FaultKind::TooManyRequests { retry_after_secs }) => {
            Some(Reply::fault(429).with("retry-after", retry_after_secs.to_string()))
        }
        Some(FaultKind::MalformedJson) => Some(Reply::text(200, r#"{"broken": [1, 2"#)),
        Some(FaultKind::EmptyOk) => Some(Reply::text(200, "")),
    };
    let reply = {
        let mut state = shared.lock();
        let reply = match faulted {
            Some(reply) => reply,
            None if too_large => Reply::error(
                400,
                "Data too large: the request body is over the fake's 64 MB limit",
            ),
            None => match incoming.endpoint {
                Endpoint::Database => database::handle(&mut state, &shared.config, &incoming),
                Endpoint::Token => token::handle(&mut state, &shared.config, &incoming),
            },
        };
        state.finish(id, reply.status);
        reply
    };
    Ok(reply.into_response())
}
