//! Choosing a port and reading back the one recorded for an instance.

use std::fs;
use std::path::Path;

use crate::Error;
use crate::probe::free_port;

pub(super) fn new_port() -> Result<u16, Error> {
    free_port().map_err(|e| Error::io("cannot find a free port on 127.0.0.1", e))
}

pub(super) fn read_port_file(path: &Path) -> Option<u16> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

pub(super) fn is_port_clash(error: &Error) -> bool {
    match error {
        Error::PortInUse { .. } => true,
        Error::DidNotStart { log_tail, .. } => log_tail.contains("Address already in use"),
        _ => false,
    }
}
