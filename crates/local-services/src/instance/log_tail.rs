//! What a server's log says when it did not start: the lines it wrote meanwhile.

use std::fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use super::LOG_TAIL_LINES;
use crate::Error;

pub(crate) fn did_not_start(what: String, log: &Path, log_offset: u64) -> Error {
    Error::DidNotStart {
        what,
        log: log.to_path_buf(),
        log_tail: log_tail(log, log_offset),
    }
}

/// The last lines of `log` written after `offset` (or of the whole file when nothing was written
/// since).
fn log_tail(log: &Path, offset: u64) -> String {
    let read_from = |offset: u64| -> io::Result<String> {
        let mut file = fs::File::open(log)?;
        file.seek(SeekFrom::Start(offset))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    let text = match read_from(offset) {
        Ok(text) if !text.trim().is_empty() => text,
        _ => match read_from(0) {
            Ok(text) => text,
            Err(e) => return format!("(cannot read the log: {e})"),
        },
    };
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
}
