//! Keyset pagination: a page is "the next `limit` items before this id", never an offset,
//! so pages stay correct and cheap while comments keep arriving.

use crate::values::ValidationError;

/// Which page to read: at most `limit` items strictly older than `before` (newest first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest<K> {
    limit: u16,
    before: Option<K>,
}

impl<K> PageRequest<K> {
    pub const MAX_LIMIT: u16 = 100;
    pub const DEFAULT_LIMIT: u16 = 50;

    /// A request for `limit` items (1..=100) older than `before`, or the newest ones.
    pub fn new(limit: u16, before: Option<K>) -> Result<Self, ValidationError> {
        if !(1..=Self::MAX_LIMIT).contains(&limit) {
            return Err(ValidationError::new(
                "limit",
                format!("must be between 1 and {}", Self::MAX_LIMIT),
            ));
        }
        Ok(Self { limit, before })
    }

    pub fn limit(&self) -> u16 {
        self.limit
    }

    pub fn before(&self) -> Option<&K> {
        self.before.as_ref()
    }
}

/// One page of items, newest first, and the key to ask for the next one with.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T, K> {
    pub items: Vec<T>,
    pub next: Option<K>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_bounded() {
        assert!(PageRequest::<u8>::new(0, None).is_err());
        assert!(PageRequest::<u8>::new(101, None).is_err());
        assert_eq!(
            PageRequest::<u8>::new(100, Some(3)).map(|p| p.limit()),
            Ok(100)
        );
    }
}
