//! Failed-login limits: at most `max` failures per key in a sliding `window`, then 429 until
//! the oldest failure leaves the window. In memory, per process: a restart forgives, which is
//! acceptable for slowing down guessing; several API processes each apply the limit.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts failures per key.
pub struct FailureLimiter {
    max: usize,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl FailureLimiter {
    /// A limiter allowing `max` failures per `window`.
    pub fn new(max: usize, window: Duration) -> Self {
        Self {
            max,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Instant>>> {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `Err(retry_after)` when the key has used up its failures.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut map = self.lock();
        let Some(times) = map.get_mut(key) else {
            return Ok(());
        };
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            times.pop_front();
        }
        if times.len() >= self.max {
            let oldest = times.front().copied().unwrap_or(now);
            return Err(self.window.saturating_sub(now.duration_since(oldest)));
        }
        Ok(())
    }

    /// Records a failure.
    pub fn fail(&self, key: &str) {
        let now = Instant::now();
        let mut map = self.lock();
        if map.len() > 100_000 {
            // Bound memory under a spray of distinct keys: forget keys with no recent failure.
            let window = self.window;
            map.retain(|_, v| v.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        map.entry(key.to_owned()).or_default().push_back(now);
    }

    /// Forgets a key's failures (a successful login for that username).
    pub fn clear(&self, key: &str) {
        self.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_trips_after_max_failures_and_clears_on_success() {
        let l = FailureLimiter::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(l.check("u").is_ok());
            l.fail("u");
        }
        let retry = l.check("u").expect_err("limited");
        assert!(retry <= Duration::from_secs(60) && retry > Duration::from_secs(50));
        assert!(l.check("other").is_ok());
        l.clear("u");
        assert!(l.check("u").is_ok());
    }

    #[test]
    fn failures_leave_the_window() {
        let l = FailureLimiter::new(1, Duration::from_millis(1));
        l.fail("u");
        std::thread::sleep(Duration::from_millis(5));
        assert!(l.check("u").is_ok());
    }
}
