//! The runtimes sockets run on. Each HTTP worker is a runtime of its own, and the windows
//! of large rooms close on another (the background one): waking a socket's task from
//! there costs a write to its runtime's eventfd, per socket. Handing a window to each
//! runtime once, to offer to its own sockets, costs one per runtime instead.

use std::sync::Mutex;

use tokio::runtime::Handle;

/// Where a subscriber runs: an index into [`Homes`], or `None` outside any runtime.
pub(super) type Home = Option<u16>;

/// The runtimes seen so far; few (one per HTTP worker, plus tests'), never forgotten.
#[derive(Debug, Default)]
pub(super) struct Homes {
    known: Mutex<Vec<Handle>>,
}

impl Homes {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Handle>> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The runtime the caller runs on.
    pub fn here(&self) -> Home {
        let current = Handle::try_current().ok()?;
        let mut known = self.lock();
        if let Some(at) = known.iter().position(|h| h.id() == current.id()) {
            return u16::try_from(at).ok();
        }
        let at = u16::try_from(known.len()).ok()?;
        known.push(current);
        Some(at)
    }

    /// `home`'s runtime if it is not the caller's (then what is for it is handed to it);
    /// `None` if it is the caller's, or unknown (then the caller does it itself).
    pub fn elsewhere(&self, home: Home) -> Option<Handle> {
        let runtime = self.lock().get(usize::from(home?))?.clone();
        match Handle::try_current() {
            Ok(current) if current.id() == runtime.id() => None,
            _ => Some(runtime),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runtime_is_known_once_and_is_not_elsewhere_from_itself() {
        let homes = Homes::default();
        assert_eq!(homes.here(), None, "outside any runtime");
        let a = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let b = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let in_a = a.block_on(async { homes.here() });
        assert_eq!(in_a, Some(0));
        assert_eq!(a.block_on(async { homes.here() }), Some(0));
        assert_eq!(b.block_on(async { homes.here() }), Some(1));
        assert!(a.block_on(async { homes.elsewhere(in_a) }).is_none());
        let from_b = b.block_on(async { homes.elsewhere(in_a) });
        assert_eq!(from_b.map(|h| h.id()), Some(a.handle().id()));
        assert!(homes.elsewhere(None).is_none());
    }
}
