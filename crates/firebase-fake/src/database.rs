//! The Realtime Database REST endpoint: namespace, method, credential and query checks, then
//! the method handlers in [`crate::methods`].

use crate::incoming::Incoming;
use crate::journal::Auth;
use crate::methods;
use crate::reply::Reply;
use crate::state::{Config, State, TokenState};

/// Query parameters of the filtering API, which the fake does not implement.
const QUERY_PARAMS: [&str; 8] = [
    "orderBy",
    "limitToFirst",
    "limitToLast",
    "startAt",
    "startAfter",
    "endAt",
    "endBefore",
    "equalTo",
];

/// How a request asked to be answered.
#[derive(Debug, Default)]
pub(crate) struct Options {
    /// `print=silent`: 204 with no body on success.
    pub(crate) silent: bool,
    /// `print=pretty`.
    pub(crate) pretty: bool,
    /// `shallow=true`.
    pub(crate) shallow: bool,
    /// `X-Firebase-ETag: true`.
    pub(crate) want_etag: bool,
    pub(crate) if_match: Option<String>,
    pub(crate) if_none_match: Option<String>,
}

/// Answers a database request (all checks, then the method), under the state lock.
pub(crate) fn handle(state: &mut State, config: &Config, request: &Incoming) -> Reply {
    match dispatch(state, config, request) {
        Ok(reply) | Err(reply) => reply,
    }
}

fn dispatch(state: &mut State, config: &Config, request: &Incoming) -> Result<Reply, Reply> {
    let path = request
        .path
        .clone()
        .map_err(|e| Reply::error(e.status, &e.message))?;
    check_namespace(config, request)?;
    let method = request.method.as_str();
    if !matches!(method, "GET" | "PUT" | "POST" | "PATCH" | "DELETE") {
        return Err(Reply::error(
            405,
            &format!("Method {method} is not allowed"),
        ));
    }
    check_auth(state, &request.auth)?;
    let options = options(request)?;
    match method {
        "GET" => methods::get(state, &path, &options),
        "PUT" => methods::put(state, &path, &options, &request.body),
        "POST" => methods::post(state, &path, &options, &request.body),
        "PATCH" => methods::patch(state, &path, &options, &request.body),
        _ => methods::delete(state, &path, &options),
    }
}

fn check_namespace(config: &Config, request: &Incoming) -> Result<(), Reply> {
    let given = request.param("ns").or_else(|| request.host_namespace());
    match given {
        Some(ns) if ns == config.namespace => Ok(()),
        Some(ns) => Err(Reply::error(
            404,
            &format!(
                "Namespace {ns:?} does not exist (this fake serves {:?})",
                config.namespace
            ),
        )),
        None => Err(Reply::error(
            404,
            &format!("Namespace not specified: add ?ns={}", config.namespace),
        )),
    }
}

fn check_auth(state: &State, auth: &Auth) -> Result<(), Reply> {
    let token = match auth {
        Auth::Owner | Auth::Secret => return Ok(()),
        Auth::None if state.open => return Ok(()),
        Auth::None => return Err(Reply::error(401, "Permission denied")),
        Auth::Invalid => return Err(Reply::error(401, "Could not parse auth token.")),
        Auth::Bearer(token) | Auth::AccessToken(token) => token,
    };
    match state.token_state(token) {
        TokenState::Valid => Ok(()),
        TokenState::Expired => Err(Reply::error(401, "Auth token is expired")),
        TokenState::Unknown => Err(Reply::error(401, "Unauthorized request.")),
    }
}

fn options(request: &Incoming) -> Result<Options, Reply> {
    let bad = |message: &str| Reply::error(400, message);
    let mut options = Options::default();
    match request.param("print") {
        None => {}
        Some("silent") => options.silent = true,
        Some("pretty") => options.pretty = true,
        Some(_) => return Err(bad("print must be pretty or silent")),
    }
    match request.param("shallow") {
        None | Some("false") => {}
        Some("true") => options.shallow = true,
        Some(_) => return Err(bad("shallow must be true or false")),
    }
    options.want_etag = request
        .header("x-firebase-etag")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    options.if_match = request.header("if-match").map(str::to_owned);
    options.if_none_match = request.header("if-none-match").map(str::to_owned);
    if let Some(param) = QUERY_PARAMS.iter().find(|p| request.param(p).is_some()) {
        return Err(bad(&format!(
            "{param}: queries (orderBy, limitTo*, startAt, endAt, equalTo) are not supported by firebase-fake"
        )));
    }
    if options.shallow && request.method == "GET" {
        if request.param("format").is_some() {
            return Err(bad(
                "shallow cannot be combined with other query parameters",
            ));
        }
        if options.want_etag || options.if_none_match.is_some() {
            return Err(bad("shallow cannot be combined with ETags"));
        }
    }
    if options.if_match.is_some() && matches!(request.method.as_str(), "POST" | "PATCH") {
        return Err(bad("if-match is not supported on POST or PATCH"));
    }
    Ok(options)
}
