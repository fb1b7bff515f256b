//! Node paths: the request path (`/<path>.json`), percent-decoding, and Firebase's key rules.

use percent_encoding::percent_decode_str;

/// Keys are at most this many bytes of UTF-8.
const MAX_KEY_BYTES: usize = 768;
/// A location (path plus the depth of the value written there) must be shallower than this.
pub(crate) const MAX_DEPTH: usize = 32;

/// Why a request path was refused: the status to answer and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathError {
    pub(crate) status: u16,
    pub(crate) message: String,
}

impl PathError {
    fn bad(message: String) -> Self {
        Self {
            status: 400,
            message,
        }
    }
}

/// Parses the raw (still percent-encoded) path of a database request into its segments.
/// The `.json` suffix is required on the last segment; empty segments are ignored.
pub(crate) fn parse_request_path(raw: &str) -> Result<Vec<String>, PathError> {
    let Some(stripped) = raw.strip_suffix(".json") else {
        return Err(PathError {
            status: 404,
            message: "Not Found: database paths end in .json".to_owned(),
        });
    };
    let mut segments = Vec::new();
    for encoded in stripped.split('/').filter(|s| !s.is_empty()) {
        let decoded = percent_decode_str(encoded)
            .decode_utf8()
            .map_err(|_| PathError::bad("Invalid path: a segment is not UTF-8".to_owned()))?;
        validate_key(&decoded).map_err(PathError::bad)?;
        segments.push(decoded.into_owned());
    }
    check_depth(segments.len()).map_err(PathError::bad)?;
    Ok(segments)
}

/// Splits a relative path (a PATCH key, or a path given to the fake's own methods) into
/// segments, without percent-decoding; empty segments are ignored.
pub(crate) fn split(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Like [`split`], and every segment must be a valid key.
pub(crate) fn parse_relative(path: &str) -> Result<Vec<String>, String> {
    let segments = split(path);
    if segments.is_empty() {
        return Err(format!("Invalid path {path:?}: it names no child"));
    }
    for segment in &segments {
        validate_key(segment)?;
    }
    Ok(segments)
}

/// Firebase's key rules: non-empty, at most 768 bytes, none of `. $ # [ ] /` and no ASCII
/// control characters.
pub(crate) fn validate_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("Invalid key: keys must not be empty".to_owned());
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(format!(
            "Invalid key: keys are at most {MAX_KEY_BYTES} bytes"
        ));
    }
    if key
        .chars()
        .any(|c| matches!(c, '.' | '$' | '#' | '[' | ']' | '/') || c.is_ascii_control())
    {
        return Err(format!(
            "Invalid key {key:?}: keys must not contain . $ # [ ] / or control characters"
        ));
    }
    Ok(())
}

/// Refuses locations at depth 32 or more.
pub(crate) fn check_depth(depth: usize) -> Result<(), String> {
    if depth >= MAX_DEPTH {
        Err(format!(
            "Invalid path: the tree is at most {} levels deep",
            MAX_DEPTH - 1
        ))
    } else {
        Ok(())
    }
}

/// Whether `path` is `prefix` or below it (segment-wise, so `a/b` is not below `a/bc`).
pub(crate) fn is_under(path: &[String], prefix: &[String]) -> bool {
    path.len() >= prefix.len() && path.iter().zip(prefix).all(|(a, b)| a == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_paths_are_decoded_and_checked() {
        assert_eq!(parse_request_path("/.json"), Ok(vec![]));
        assert_eq!(
            parse_request_path("/a//b%20c/.json"),
            Ok(vec!["a".to_owned(), "b c".to_owned()])
        );
        assert_eq!(parse_request_path("/a/b").map_err(|e| e.status), Err(404));
        assert_eq!(
            parse_request_path("/a%2Fb.json").map_err(|e| e.status),
            Err(400)
        );
        assert_eq!(
            parse_request_path("/a$b.json").map_err(|e| e.status),
            Err(400)
        );
        assert_eq!(
            parse_request_path("/a%01.json").map_err(|e| e.status),
            Err(400)
        );
        let deep = "/x".repeat(32) + ".json";
        assert_eq!(parse_request_path(&deep).map_err(|e| e.status), Err(400));
        assert!(validate_key(&"k".repeat(769)).is_err());
        assert!(validate_key(&"k".repeat(768)).is_ok());
    }

    #[test]
    fn prefixes_are_segment_wise() {
        let p = |s: &str| split(s);
        assert!(is_under(&p("a/b/c"), &p("a/b")));
        assert!(is_under(&p("a/b"), &p("a/b")));
        assert!(is_under(&p("a"), &p("")));
        assert!(!is_under(&p("a/bc"), &p("a/b")));
    }
}
