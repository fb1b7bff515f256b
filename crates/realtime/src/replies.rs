//! Error replies that both the protocol and the room send.

use serde_json::{Value, json};

/// The `rate_limited` error reply's response: the reason, how long to wait in whole
/// milliseconds rounded up (REST says the same in `Retry-After`), and the sentence a person
/// reads, the same as REST's message.
pub(crate) fn rate_limited(limit: &str, wait: std::time::Duration) -> Value {
    let millis = wait.as_micros().div_ceil(1000);
    json!({
        "reason": "rate_limited",
        "retry_after_ms": millis,
        "message": domain::limits::refusal(limit, wait),
    })
}
