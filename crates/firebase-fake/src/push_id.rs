//! Push ids for POST: 20 characters, 8 encoding the millisecond time and 12 random ones,
//! from an alphabet that sorts in ASCII order, so ids sort in creation order.

/// The push id alphabet, in ASCII order.
const CHARS: &[u8; 64] = b"-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

/// Generates strictly increasing push ids (within one millisecond, and when the clock goes
/// back, the random part of the previous id is incremented).
#[derive(Debug, Default)]
pub(crate) struct PushIds {
    last_ms: u64,
    last_random: [u8; 12],
}

impl PushIds {
    /// The next id at `now_ms`.
    pub(crate) fn next(&mut self, now_ms: u64) -> String {
        if now_ms > self.last_ms {
            self.last_ms = now_ms;
            self.last_random = crate::random::bytes::<12>().map(|b| b % 64);
        } else {
            for digit in self.last_random.iter_mut().rev() {
                if *digit == 63 {
                    *digit = 0;
                } else {
                    *digit += 1;
                    break;
                }
            }
        }
        let mut id = [0u8; 20];
        let mut time = self.last_ms;
        for slot in id[..8].iter_mut().rev() {
            *slot = CHARS[(time % 64) as usize];
            time /= 64;
        }
        for (slot, digit) in id[8..].iter_mut().zip(self.last_random) {
            *slot = CHARS[usize::from(digit % 64)];
        }
        id.iter().map(|&b| char::from(b)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_time_ordered_and_monotonic() {
        let mut ids = PushIds::default();
        let mut all = vec![ids.next(1_700_000_000_000)];
        for ms in [
            1_700_000_000_000,
            1_700_000_000_000,
            1_700_000_000_001,
            1_699_000_000_000,
        ] {
            all.push(ids.next(ms));
        }
        assert!(all.iter().all(|id| id.len() == 20));
        assert!(all.windows(2).all(|w| w[0] < w[1]), "{all:?}");
        assert!(all[3].starts_with(&all[0][..7]));
    }
}
