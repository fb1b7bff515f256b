//! Latency samples and their percentiles.

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
