//! Reactions counted instead of relayed: how many of each emoji in one window.

use std::collections::BTreeMap;

/// Distinct emoji counted in one window; reactions with others past it are counted under
/// [`OTHER`], so a window's frame stays small whatever clients send.
const MAX_KINDS: usize = 64;
/// Where reactions past [`MAX_KINDS`] distinct emoji are counted.
pub(crate) const OTHER: &str = "other";

/// Counts by emoji.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally(BTreeMap<String, u64>);

impl Tally {
    pub fn add(&mut self, emoji: &str, n: u64) {
        if let Some(count) = self.0.get_mut(emoji) {
            *count += n;
        } else if self.0.len() < MAX_KINDS {
            self.0.insert(emoji.to_owned(), n);
        } else {
            *self.0.entry(OTHER.to_owned()).or_default() += n;
        }
    }

    pub fn merge(&mut self, other: &Tally) {
        for (emoji, n) in &other.0 {
            self.add(emoji, *n);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn counts(&self) -> &BTreeMap<String, u64> {
        &self.0
    }

    pub fn from_counts(counts: BTreeMap<String, u64>) -> Self {
        let mut tally = Self::default();
        for (emoji, n) in counts {
            tally.add(&emoji, n);
        }
        tally
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_and_many_kinds_fold_into_other() {
        let mut a = Tally::default();
        a.add("🔥", 2);
        a.add("🔥", 1);
        let mut b = Tally::default();
        b.add("🔥", 4);
        b.add("👍", 1);
        a.merge(&b);
        assert_eq!(a.counts().get("🔥"), Some(&7));
        assert_eq!(a.counts().get("👍"), Some(&1));
        let mut many = Tally::default();
        for i in 0..100 {
            many.add(&format!("e{i}"), 1);
        }
        assert_eq!(many.counts().len(), MAX_KINDS + 1);
        assert_eq!(many.counts().values().sum::<u64>(), 100, "none lost");
    }
}
