//! A circuit breaker: after enough failures in a row the mirror stops sending for a while
//! (open), then lets one small batch through (half-open); its success closes the circuit,
//! its failure opens it again for twice as long, up to a limit. While open, outbox rows
//! are not leased, so a long Firebase outage spends no row's attempts.

use std::time::Duration;

use tokio::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    Closed,
    Open { until: Instant },
    HalfOpen,
}

/// What the breaker allows now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Permit {
    /// Send as usual.
    Send,
    /// Send one probe.
    Probe,
    /// Send nothing for this long.
    Wait(Duration),
}

#[derive(Debug)]
pub(crate) struct Breaker {
    state: State,
    failures: u32,
    threshold: u32,
    first_open: Duration,
    max_open: Duration,
    open_for: Duration,
}

impl Breaker {
    pub(crate) fn new(threshold: u32, first_open: Duration, max_open: Duration) -> Self {
        Self {
            state: State::Closed,
            failures: 0,
            threshold: threshold.max(1),
            first_open,
            max_open,
            open_for: first_open,
        }
    }

    #[cfg(test)]
    pub(crate) fn state(&self) -> State {
        self.state
    }

    pub(crate) fn permit(&mut self, now: Instant) -> Permit {
        match self.state {
            State::Closed => Permit::Send,
            State::HalfOpen => Permit::Probe,
            State::Open { until } if now < until => Permit::Wait(until - now),
            State::Open { .. } => {
                self.state = State::HalfOpen;
                Permit::Probe
            }
        }
    }

    /// Returns true if this closed an open circuit.
    pub(crate) fn success(&mut self) -> bool {
        let was_open = self.state != State::Closed;
        self.state = State::Closed;
        self.failures = 0;
        self.open_for = self.first_open;
        was_open
    }

    /// Returns how long the circuit is now open for, if this opened it.
    pub(crate) fn failure(&mut self, now: Instant) -> Option<Duration> {
        match self.state {
            State::HalfOpen => {
                self.open_for = (self.open_for * 2).min(self.max_open);
            }
            State::Closed => {
                self.failures += 1;
                if self.failures < self.threshold {
                    return None;
                }
            }
            State::Open { .. } => return None,
        }
        self.state = State::Open {
            until: now + self.open_for,
        };
        Some(self.open_for)
    }

    /// The gauge value: 0 closed, 1 half-open, 2 open.
    pub(crate) fn gauge(&self) -> f64 {
        match self.state {
            State::Closed => 0.0,
            State::HalfOpen => 1.0,
            State::Open { .. } => 2.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_probes_then_closes() {
        let t0 = Instant::now();
        let mut b = Breaker::new(3, Duration::from_secs(5), Duration::from_secs(60));
        assert_eq!(b.failure(t0), None);
        assert_eq!(b.failure(t0), None);
        assert_eq!(b.failure(t0), Some(Duration::from_secs(5)));
        assert_eq!(b.permit(t0), Permit::Wait(Duration::from_secs(5)));
        let later = t0 + Duration::from_secs(5);
        assert_eq!(b.permit(later), Permit::Probe);
        // The probe fails: open again, twice as long.
        assert_eq!(b.failure(later), Some(Duration::from_secs(10)));
        let later = later + Duration::from_secs(10);
        assert_eq!(b.permit(later), Permit::Probe);
        assert!(b.success());
        assert_eq!(b.permit(later), Permit::Send);
        // Closed again: the count starts over and the open time is back to the first.
        assert_eq!(b.failure(later), None);
        assert_eq!(b.failure(later), None);
        assert_eq!(b.failure(later), Some(Duration::from_secs(5)));
    }

    #[test]
    fn the_open_time_is_capped() {
        let mut now = Instant::now();
        let mut b = Breaker::new(1, Duration::from_secs(5), Duration::from_secs(12));
        let mut last = None;
        for _ in 0..5 {
            last = b.failure(now);
            if let State::Open { until } = b.state() {
                now = until;
            }
            assert_eq!(b.permit(now), Permit::Probe);
        }
        assert_eq!(last, Some(Duration::from_secs(12)));
    }
}
