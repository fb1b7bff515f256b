//! Latency samples and their percentiles.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Latencies of one kind of request.
#[derive(Debug, Default)]
pub struct Samples {
    latencies: Vec<Duration>,
    pub errors: u64,
}

impl Samples {
    pub fn record(&mut self, latency: Duration) {
        self.latencies.push(latency);
    }

    pub fn merge(&mut self, other: Samples) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
    }

    pub fn count(&self) -> usize {
        self.latencies.len()
    }

    /// (p50, p99, max) in milliseconds.
    pub fn percentiles_ms(&mut self) -> (f64, f64, f64) {
        if self.latencies.is_empty() {
            return (0.0, 0.0, 0.0);
        }
        self.latencies.sort_unstable();
        let at = |q: f64| {
            let i = ((self.latencies.len() as f64 - 1.0) * q).round() as usize;
            self.latencies[i].as_secs_f64() * 1000.0
        };
        (at(0.50), at(0.99), at(1.0))
    }
}

/// Latencies counted into buckets 0.5% wide (1 µs to about 100 s), by any number of tasks
/// at once and in constant memory: fifteen thousand viewers each timing every comment would
/// otherwise keep millions of samples.
#[derive(Debug)]
pub struct Histogram {
    buckets: Vec<AtomicU64>,
    max_micros: AtomicU64,
}

/// Each bucket's upper bound is this many times the one before.
const GROWTH: f64 = 1.005;
const BUCKETS: usize = 3_700;

impl Default for Histogram {
    fn default() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            max_micros: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    /// The bucket of `micros`: the first whose upper bound (`GROWTH^i` µs) holds it.
    fn bucket(micros: u64) -> usize {
        if micros <= 1 {
            return 0;
        }
        let i = ((micros as f64).ln() / GROWTH.ln()).ceil() as usize;
        i.min(BUCKETS - 1)
    }

    pub fn record(&self, latency: Duration) {
        let micros = latency.as_micros() as u64;
        self.buckets[Self::bucket(micros)].fetch_add(1, Ordering::Relaxed);
        self.max_micros.fetch_max(micros, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    /// (p50, p99, max) in milliseconds; a percentile is its bucket's upper bound (at most
    /// 0.5% high), the max is exact.
    pub fn percentiles_ms(&self) -> (f64, f64, f64) {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        let max = self.max_micros.load(Ordering::Relaxed) as f64 / 1000.0;
        let at = |q: f64| {
            // The rank of the sample at q, counted from 1, as `Samples` picks it.
            let rank = ((total as f64 - 1.0) * q).round() as u64 + 1;
            let mut seen = 0;
            for (i, n) in counts.iter().enumerate() {
                seen += n;
                if seen >= rank {
                    return (GROWTH.powi(i as i32) / 1000.0).min(max);
                }
            }
            max
        };
        if total == 0 {
            return (0.0, 0.0, 0.0);
        }
        (at(0.50), at(0.99), max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_percentiles_are_within_half_a_percent() {
        let histogram = Histogram::default();
        let mut samples = Samples::default();
        for ms in 1..=1000u64 {
            let latency = Duration::from_micros(ms * 1000 + 17);
            histogram.record(latency);
            samples.record(latency);
        }
        assert_eq!(histogram.count(), 1000);
        let (p50, p99, max) = histogram.percentiles_ms();
        let (e50, e99, emax) = samples.percentiles_ms();
        assert!(p50 >= e50 && p50 <= e50 * GROWTH, "{p50} vs {e50}");
        assert!(p99 >= e99 && p99 <= e99 * GROWTH, "{p99} vs {e99}");
        assert!((max - emax).abs() < 1e-6, "{max} vs {emax}");
        assert_eq!(Histogram::default().percentiles_ms(), (0.0, 0.0, 0.0));
        histogram.record(Duration::from_secs(10_000));
        assert_eq!(
            histogram.count(),
            1001,
            "beyond the last bucket still counts"
        );
    }
}
