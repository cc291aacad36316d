//! Login attempt limits, in memory, per process: a restart forgives, which is acceptable for
//! slowing down guessing; several API processes each apply the limits.
//!
//! # The scheme, and why
//!
//! A lock-out keyed by username alone lets anyone keep the admin out by typing five wrong
//! passwords for `admin`; one keyed by address alone lets a botnet guess one password from
//! thousands of addresses. So there are three counters, each for a different attacker:
//!
//! - **(username, address)**: [`PAIR_MAX`] attempts per [`WINDOW`], then 429 — for that pair
//!   only. Someone guessing `admin` from their address locks out themselves, not the admin
//!   typing from another address.
//! - **address**: [`ADDRESS_MAX`] attempts per [`WINDOW`] whatever the username, then 429 — one
//!   source spraying many usernames.
//! - **username across all addresses**: never locks (a lock here is exactly the stranger's
//!   weapon). Past [`SLOW_AFTER`] attempts in the window each further attempt on that username
//!   waits an exponentially growing delay, capped at [`SLOW_MAX`]: a distributed guesser gets
//!   a few attempts per address per window and each one late, while the real admin with the
//!   right password still gets in, at worst a few seconds slower.
//!
//! IPv6 addresses count per /64, the block one subscriber usually holds, so rotating through
//! one's own block does not reset the counters.
//!
//! Attempts are counted **before** the password is hashed ([`LoginLimits::begin`] reserves
//! them atomically under one lock), so parallel attempts cannot all pass a check made before any
//! of them failed. A success forgives its pair and gives back its reservations; an attempt that
//! never reached the hash (pool full, database down) gives its reservations back too.
//!
//! Keys are a 16-byte digest of the username (lower-cased) and address, so a key costs the same
//! whatever was typed, and each counter keeps at most its capacity of keys, dropping the least
//! recently used when full. (A spray big enough to push a key out costs the sprayer far more
//! attempts than the key held.)

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// The window every counter looks back over.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Attempts per (username, address) in the window.
pub const PAIR_MAX: usize = 5;
/// Attempts per address in the window, whatever the username.
pub const ADDRESS_MAX: usize = 30;
/// Attempts per username in the window (all addresses) before each further one is slowed.
pub const SLOW_AFTER: usize = 10;
/// The longest a slowed attempt waits.
pub const SLOW_MAX: Duration = Duration::from_secs(5);
/// Keys each counter keeps.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// A fixed-size limiter key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key([u8; 16]);

impl Key {
    fn of(parts: &[&[u8]]) -> Self {
        let mut h = Sha256::new();
        for part in parts {
            // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        let digest = h.finalize();
        let mut key = [0; 16];
        key.copy_from_slice(&digest[..16]);
        Self(key)
    }

    fn username(name: &str) -> Self {
        Self::of(&[&b"user"[..], name.to_lowercase().as_bytes()])
    }

    fn address(addr: IpAddr) -> Self {
        Self::of(&[&b"addr"[..], address_bytes(addr).as_slice()])
    }

    fn pair(name: &str, addr: IpAddr) -> Self {
        Self::of(&[
            &b"pair"[..],
            name.to_lowercase().as_bytes(),
            address_bytes(addr).as_slice(),
        ])
    }
}

/// An IPv4 address, or the /64 of an IPv6 one.
fn address_bytes(addr: IpAddr) -> Vec<u8> {
    match addr.to_canonical() {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets()[..8].to_vec(),
    }
}

/// Attempts per key in a sliding window, with a bounded number of keys.
pub struct Limiter {
    max: usize,
    window: Duration,
    capacity: usize,
    attempts: Mutex<HashMap<Key, VecDeque<Instant>>>,
}

impl Limiter {
    /// At most `max` attempts per key in `window`; at most `capacity` keys kept.
    pub fn new(max: usize, window: Duration, capacity: usize) -> Self {
        Self {
            max: max.max(1),
            window,
            capacity: capacity.max(1),
            attempts: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, VecDeque<Instant>>> {
        self.attempts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The attempts of `key` still in the window, creating its entry (making room if full).
    fn entry<'a>(
        &self,
        map: &'a mut HashMap<Key, VecDeque<Instant>>,
        key: Key,
        now: Instant,
    ) -> &'a mut VecDeque<Instant> {
        if !map.contains_key(&key) && map.len() >= self.capacity {
            self.make_room(map, now);
        }
        let times = map.entry(key).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            times.pop_front();
        }
        times
    }

    /// Forgets keys with nothing in the window; if that is not enough, the least recently used
    /// tenth, so that a spray of new keys pays for sorting once per tenth of the capacity.
    fn make_room(&self, map: &mut HashMap<Key, VecDeque<Instant>>, now: Instant) {
        let window = self.window;
        map.retain(|_, v| v.back().is_some_and(|t| now.duration_since(*t) < window));
        if map.len() < self.capacity {
            return;
        }
        let mut by_age: Vec<(Instant, Key)> = map
            .iter()
            .map(|(k, v)| (v.back().copied().unwrap_or(now), *k))
            .collect();
        by_age.sort_unstable_by_key(|(t, _)| *t);
        let drop = (self.capacity / 10).max(1);
        for (_, key) in by_age.into_iter().take(drop) {
            map.remove(&key);
        }
    }

    /// Atomically: `Err(retry_after)` when `key` is at its limit, else one more attempt is
    /// counted now and its time returned (to [`Self::release`] it).
    pub fn reserve(&self, key: Key) -> Result<Instant, Duration> {
        let now = Instant::now();
        let mut map = self.lock();
        let times = self.entry(&mut map, key, now);
        if times.len() >= self.max {
            let oldest = times.front().copied().unwrap_or(now);
            return Err(self.window.saturating_sub(now.duration_since(oldest)));
        }
        times.push_back(now);
        Ok(now)
    }

    /// Counts an attempt whatever the count, and returns the count in the window including it
    /// (at most `max`: the oldest are dropped, so a key costs bounded memory).
    pub fn record(&self, key: Key) -> (usize, Instant) {
        let now = Instant::now();
        let mut map = self.lock();
        let times = self.entry(&mut map, key, now);
        times.push_back(now);
        while times.len() > self.max {
            times.pop_front();
        }
        (times.len(), now)
    }

    /// Takes back one attempt counted at `at`.
    pub fn release(&self, key: Key, at: Instant) {
        let mut map = self.lock();
        if let Some(times) = map.get_mut(&key) {
            if let Some(i) = times.iter().rposition(|t| *t == at) {
                times.remove(i);
            }
            if times.is_empty() {
                map.remove(&key);
            }
        }
    }

    /// Forgets every attempt of `key`.
    pub fn clear(&self, key: Key) {
        self.lock().remove(&key);
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One login attempt's reservations; hand it back through [`LoginLimits::succeeded`] or
/// [`LoginLimits::abandoned`], or drop it: a dropped attempt stays counted as a failure.
#[derive(Debug)]
#[must_use = "a reservation is a failure unless handed back"]
pub struct Attempt {
    pair: (Key, Instant),
    address: (Key, Instant),
    username: (Key, Instant),
    /// How long to wait before hashing (the username is under a distributed attack).
    pub delay: Duration,
}

/// The three counters of the scheme in the module doc.
pub struct LoginLimits {
    pair: Limiter,
    address: Limiter,
    username: Limiter,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl LoginLimits {
    /// The limits of the module doc, each counter keeping at most `capacity` keys.
    pub fn new(capacity: usize) -> Self {
        Self {
            pair: Limiter::new(PAIR_MAX, WINDOW, capacity),
            address: Limiter::new(ADDRESS_MAX, WINDOW, capacity),
            // Keeps a little past the slow-down threshold: enough to reach the cap.
            username: Limiter::new(SLOW_AFTER + 16, WINDOW, capacity),
        }
    }

    /// Counts an attempt for `username` from `address` before any hashing.
    ///
    /// # Errors
    /// `Err(retry_after)` when the pair or the address is at its limit (nothing is counted).
    pub fn begin(&self, username: &str, address: IpAddr) -> Result<Attempt, Duration> {
        let address_key = Key::address(address);
        let pair_key = Key::pair(username, address);
        let address_at = self.address.reserve(address_key)?;
        let pair_at = match self.pair.reserve(pair_key) {
            Ok(at) => at,
            Err(retry) => {
                self.address.release(address_key, address_at);
                return Err(retry);
            }
        };
        let username_key = Key::username(username);
        let (count, username_at) = self.username.record(username_key);
        Ok(Attempt {
            pair: (pair_key, pair_at),
            address: (address_key, address_at),
            username: (username_key, username_at),
            delay: slow_down(count),
        })
    }

    /// The right password: the pair is forgiven and the attempt given back.
    pub fn succeeded(&self, attempt: Attempt) {
        self.pair.clear(attempt.pair.0);
        self.address.release(attempt.address.0, attempt.address.1);
        self.username
            .release(attempt.username.0, attempt.username.1);
    }

    /// No password was checked: the attempt is given back.
    pub fn abandoned(&self, attempt: Attempt) {
        self.pair.release(attempt.pair.0, attempt.pair.1);
        self.address.release(attempt.address.0, attempt.address.1);
        self.username
            .release(attempt.username.0, attempt.username.1);
    }

    /// Keys held by the three counters together.
    pub fn keys_held(&self) -> usize {
        self.pair.len() + self.address.len() + self.username.len()
    }
}

/// 250 ms doubling with each attempt past [`SLOW_AFTER`], capped at [`SLOW_MAX`].
fn slow_down(count: usize) -> Duration {
    let Some(excess) = count.checked_sub(SLOW_AFTER + 1) else {
        return Duration::ZERO;
    };
    let factor = 1u32 << excess.min(8);
    (Duration::from_millis(250) * factor).min(SLOW_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn a_key_is_at_its_limit_once_max_attempts_are_reserved_and_release_gives_one_back() {
        let l = Limiter::new(3, Duration::from_secs(60), 10);
        let k = Key::username("u");
        let times: Vec<Instant> = (0..3).map(|_| l.reserve(k).expect("free")).collect();
        let retry = l.reserve(k).expect_err("limited");
        assert!(retry <= Duration::from_secs(60) && retry > Duration::from_secs(50));
        assert!(l.reserve(Key::username("other")).is_ok());
        l.release(k, times[0]);
        assert!(l.reserve(k).is_ok());
        l.clear(k);
        assert!(l.reserve(k).is_ok());
    }

    #[test]
    fn attempts_leave_the_window() {
        let l = Limiter::new(1, Duration::from_millis(1), 10);
        let k = Key::username("u");
        l.reserve(k).expect("free");
        std::thread::sleep(Duration::from_millis(5));
        assert!(l.reserve(k).is_ok());
    }

    #[test]
    fn a_spray_of_long_distinct_usernames_keeps_the_limiter_bounded() {
        let limits = LoginLimits::new(1_000);
        for i in 0..5_000u32 {
            // Over-long names are refused before the limiter; even one that got here costs a
            // 16-byte key like any other.
            let name = format!("{i}{}", "x".repeat(10_000));
            let from = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            drop(limits.begin(&name, from).expect("a new pair and address"));
        }
        assert!(limits.keys_held() <= 3 * 1_000, "{}", limits.keys_held());
        assert_eq!(std::mem::size_of::<Key>(), 16);
    }

    #[test]
    fn a_stranger_failing_from_one_address_does_not_lock_the_admin_out_of_another() {
        let limits = LoginLimits::default();
        let stranger = ip("203.0.113.9");
        for _ in 0..PAIR_MAX {
            drop(limits.begin("admin", stranger).expect("counted"));
        }
        assert!(
            limits.begin("admin", stranger).is_err(),
            "the stranger is held"
        );
        assert!(
            limits.begin("ADMIN", stranger).is_err(),
            "whatever the case"
        );
        let admin = limits
            .begin("admin", ip("198.51.100.7"))
            .expect("admin gets in");
        assert_eq!(admin.delay, Duration::ZERO);
        limits.succeeded(admin);
    }

    #[test]
    fn a_distributed_guess_slows_the_username_but_never_locks_it() {
        let limits = LoginLimits::default();
        for i in 0..(SLOW_AFTER + 20) {
            let from = ip(&format!("10.1.{}.{}", i / 200, i % 200));
            drop(limits.begin("admin", from).expect("never locked"));
        }
        let admin = limits
            .begin("admin", ip("198.51.100.7"))
            .expect("admin gets in");
        assert_eq!(admin.delay, SLOW_MAX);
        assert_eq!(slow_down(SLOW_AFTER), Duration::ZERO);
        assert_eq!(slow_down(SLOW_AFTER + 1), Duration::from_millis(250));
        assert_eq!(slow_down(SLOW_AFTER + 2), Duration::from_millis(500));
        assert_eq!(slow_down(usize::MAX), SLOW_MAX);
    }

    #[test]
    fn ipv6_addresses_count_per_64() {
        let limits = LoginLimits::default();
        for i in 0..PAIR_MAX {
            drop(
                limits
                    .begin("admin", ip(&format!("2001:db8::{i:x}")))
                    .expect("counted"),
            );
        }
        assert!(limits.begin("admin", ip("2001:db8::ffff:1")).is_err());
        assert!(limits.begin("admin", ip("2001:db8:0:1::1")).is_ok());
    }

    #[test]
    fn an_abandoned_attempt_is_given_back() {
        let limits = LoginLimits::default();
        let from = ip("192.0.2.5");
        for _ in 0..(PAIR_MAX * 3) {
            let attempt = limits.begin("admin", from).expect("never used up");
            limits.abandoned(attempt);
        }
    }
}
