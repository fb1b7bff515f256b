//! Scripted failures: which requests they hit, how many times, and what the fake does instead.

use std::time::Duration;

use crate::path;

/// Which endpoint a [`Fault`] applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Target {
    /// The Realtime Database REST endpoints (`/<path>.json`): the default.
    #[default]
    Database,
    /// The OAuth2 token endpoint (`POST /token`); `path_prefix` is ignored.
    Token,
    /// Both.
    Any,
}

/// What the fake does instead of (or before) handling a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// Answer with this status and a `{"error":"..."}` body (a code outside 100..=999 becomes 500).
    Status(u16),
    /// Answer 429 with a `Retry-After: <secs>` header and a `{"error":"..."}` body.
    TooManyRequests {
        /// The `Retry-After` value, in seconds.
        retry_after_secs: u64,
    },
    /// Never answer: wait until the client gives up (closes the connection) or
    /// [`FakeFirebase::release_hangs`](crate::FakeFirebase::release_hangs) is called, which
    /// answers 503. The request is not applied.
    Hang,
    /// Close the TCP connection without sending any response. The request is not applied.
    DropConnection,
    /// Wait this long, then handle the request normally.
    Latency(Duration),
    /// Answer 200 with a body that is not valid JSON. The request is not applied.
    MalformedJson,
    /// Answer 200 with an empty body. The request is not applied.
    EmptyOk,
}

/// A rule in the fault queue: the first rule that matches a request and has uses left is
/// used (and its `times` decremented). Built with the constructors and builder methods:
///
/// ```
/// use firebase_fake::Fault;
/// let three_503s = Fault::status(503).times(3);
/// let hang_patches = Fault::hang().on("PATCH", "");
/// let slow_token = Fault::latency(std::time::Duration::from_millis(200)).on_token();
/// # let _ = (three_503s, hang_patches, slow_token);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// Only requests with this method (case-insensitive; for the database, the effective
    /// method after `X-HTTP-Method-Override`); `None` = any method.
    pub method: Option<String>,
    /// Only database requests at this node path or below it, segment-wise (`"videos/v1"`
    /// matches `videos/v1` and `videos/v1/comments`, not `videos/v10`); `""` and `None`
    /// match every path.
    pub path_prefix: Option<String>,
    /// How many requests it still applies to; `usize::MAX` = until cleared.
    pub times: usize,
    /// What happens.
    pub kind: FaultKind,
    /// Which endpoint it applies to (default: the database).
    pub target: Target,
}

impl Fault {
    /// A fault of this kind for the next database request (any method, any path), once.
    pub fn new(kind: FaultKind) -> Self {
        Self {
            method: None,
            path_prefix: None,
            times: 1,
            kind,
            target: Target::Database,
        }
    }

    /// [`FaultKind::Status`].
    pub fn status(code: u16) -> Self {
        Self::new(FaultKind::Status(code))
    }

    /// [`FaultKind::TooManyRequests`].
    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        Self::new(FaultKind::TooManyRequests { retry_after_secs })
    }

    /// [`FaultKind::Hang`].
    pub fn hang() -> Self {
        Self::new(FaultKind::Hang)
    }

    /// [`FaultKind::DropConnection`].
    pub fn drop_connection() -> Self {
        Self::new(FaultKind::DropConnection)
    }

    /// [`FaultKind::Latency`].
    pub fn latency(delay: Duration) -> Self {
        Self::new(FaultKind::Latency(delay))
    }

    /// [`FaultKind::MalformedJson`].
    pub fn malformed_json() -> Self {
        Self::new(FaultKind::MalformedJson)
    }

    /// [`FaultKind::EmptyOk`].
    pub fn empty_ok() -> Self {
        Self::new(FaultKind::EmptyOk)
    }

    /// Applies to the next `n` matching requests.
    #[must_use]
    pub fn times(mut self, n: usize) -> Self {
        self.times = n;
        self
    }

    /// Applies to every matching request until [`FakeFirebase::clear_faults`](crate::FakeFirebase::clear_faults).
    #[must_use]
    pub fn always(self) -> Self {
        self.times(usize::MAX)
    }

    /// Only requests with `method` (`""` = any) at `path_prefix` or below (`""` = anywhere).
    #[must_use]
    pub fn on(mut self, method: &str, path_prefix: &str) -> Self {
        self.method = (!method.is_empty()).then(|| method.to_ascii_uppercase());
        self.path_prefix = Some(path_prefix.to_owned());
        self
    }

    /// Applies to the token endpoint instead of the database.
    #[must_use]
    pub fn on_token(mut self) -> Self {
        self.target = Target::Token;
        self
    }

    /// Applies to the database and the token endpoint.
    #[must_use]
    pub fn on_any_endpoint(mut self) -> Self {
        self.target = Target::Any;
        self
    }

    /// Whether this rule (with uses left) applies to a request.
    pub(crate) fn matches(&self, endpoint: Target, method: &str, node_path: &[String]) -> bool {
        let target = match (self.target, endpoint) {
            (Target::Any, _) => true,
            (Target::Token, Target::Token) => true,
            (Target::Database, Target::Database) => {
                self.path_prefix.as_deref().is_none_or(|prefix| {
                    path::is_under(node_path, &path::split(prefix.trim_end_matches(".json")))
                })
            }
            _ => false,
        };
        let method_ok = self
            .method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method));
        self.times > 0 && target && method_ok
    }
}

/// Takes the kind of the first matching fault in `queue`, using one of its `times`.
pub(crate) fn take(
    queue: &mut Vec<Fault>,
    endpoint: Target,
    method: &str,
    node_path: &[String],
) -> Option<FaultKind> {
    let index = queue
        .iter()
        .position(|f| f.matches(endpoint, method, node_path))?;
    let fault = queue.get_mut(index)?;
    if fault.times != usize::MAX {
        fault.times -= 1;
    }
    let kind = fault.kind.clone();
    if fault.times == 0 {
        queue.remove(index);
    }
    Some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_rule_is_used_up() {
        let p = |s: &str| path::split(s);
        let mut queue = vec![
            Fault::status(500).on("put", "a/b").times(2),
            Fault::empty_ok().on_token(),
            Fault::status(503).always(),
        ];
        assert_eq!(
            take(&mut queue, Target::Database, "GET", &p("a/b")),
            Some(FaultKind::Status(503))
        );
        assert_eq!(
            take(&mut queue, Target::Database, "PUT", &p("a/b/c")),
            Some(FaultKind::Status(500))
        );
        assert_eq!(
            take(&mut queue, Target::Database, "PUT", &p("a/bc")),
            Some(FaultKind::Status(503))
        );
        assert_eq!(
            take(&mut queue, Target::Database, "PUT", &p("a/b")),
            Some(FaultKind::Status(500))
        );
        assert_eq!(
            take(&mut queue, Target::Database, "PUT", &p("a/b")),
            Some(FaultKind::Status(503))
        );
        assert_eq!(
            take(&mut queue, Target::Token, "POST", &p("token")),
            Some(FaultKind::EmptyOk)
        );
        assert_eq!(take(&mut queue, Target::Token, "POST", &p("token")), None);
        assert_eq!(queue.len(), 1);
    }
}
