//! Rate limits on failed token checks: one token bucket per client address and one per
//! connector. Each bucket holds `per_minute` failures and refills at `per_minute` per minute.
//! The map of addresses is bounded; when it is full, addresses that are not in it share one
//! overflow bucket. Time is a parameter, so tests control it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Client addresses tracked at once; beyond this they share one bucket.
pub const MAX_ADDRESSES: usize = 8192;

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(capacity: f64, now: Instant) -> Self {
        Self {
            tokens: capacity,
            at: now,
        }
    }

    fn refill(&mut self, capacity: f64, now: Instant) {
        let rate = capacity / 60.0;
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(capacity);
        self.at = now;
    }

    /// Time until one failure is allowed again (zero when it is now).
    fn wait(&self, capacity: f64) -> Duration {
        if self.tokens >= 1.0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64((1.0 - self.tokens) * 60.0 / capacity)
    }
}

struct Buckets<K> {
    capacity: f64,
    map: HashMap<K, Bucket>,
    overflow: Bucket,
}

impl<K: std::hash::Hash + Eq + Clone> Buckets<K> {
    fn new(per_minute: u32, now: Instant) -> Self {
        let capacity = f64::from(per_minute.max(1));
        Self {
            capacity,
            map: HashMap::new(),
            overflow: Bucket::full(capacity, now),
        }
    }

    fn bucket(&mut self, key: &K, now: Instant) -> &mut Bucket {
        let capacity = self.capacity;
        if !self.map.contains_key(key) && self.map.len() >= MAX_ADDRESSES {
            // Forget the buckets that have refilled: they say nothing any more.
            self.map.retain(|_, b| {
                b.refill(capacity, now);
                b.tokens < capacity
            });
        }
        if self.map.len() >= MAX_ADDRESSES && !self.map.contains_key(key) {
            return &mut self.overflow;
        }
        let bucket = self
            .map
            .entry(key.clone())
            .or_insert_with(|| Bucket::full(capacity, now));
        bucket.refill(capacity, now);
        bucket
    }
}

/// The failed-check limits of one host.
pub struct FailureLimiter {
    inner: Mutex<(Buckets<IpAddr>, Buckets<String>)>,
}

impl FailureLimiter {
    pub fn new(per_address_per_minute: u32, per_connector_per_minute: u32, now: Instant) -> Self {
        Self {
            inner: Mutex::new((
                Buckets::new(per_address_per_minute, now),
                Buckets::new(per_connector_per_minute, now),
            )),
        }
    }

    /// Take one failure from both `address`'s and `connector`'s buckets before a check, or
    /// `Some(wait)` when either is used up (then nothing is taken, and the caller answers 429
    /// and checks nothing). Taking before checking keeps concurrent checks within the limit.
    pub fn take(&self, address: IpAddr, connector: &str, now: Instant) -> Option<Duration> {
        let mut guard = self.inner.lock();
        let (addresses, connectors) = &mut *guard;
        let (a_cap, c_cap) = (addresses.capacity, connectors.capacity);
        let a = addresses.bucket(&address, now).wait(a_cap);
        let c = connectors.bucket(&connector.to_string(), now).wait(c_cap);
        let wait = a.max(c);
        if !wait.is_zero() {
            return Some(wait);
        }
        addresses.bucket(&address, now).tokens -= 1.0;
        connectors.bucket(&connector.to_string(), now).tokens -= 1.0;
        None
    }

    /// Give back what [`Self::take`] took, when the check succeeded.
    pub fn refund(&self, address: IpAddr, connector: &str, now: Instant) {
        let mut guard = self.inner.lock();
        let (addresses, connectors) = &mut *guard;
        let (a_cap, c_cap) = (addresses.capacity, connectors.capacity);
        let a = addresses.bucket(&address, now);
        a.tokens = (a.tokens + 1.0).min(a_cap);
        let c = connectors.bucket(&connector.to_string(), now);
        c.tokens = (c.tokens + 1.0).min(c_cap);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_blocked_after_its_failures_and_refills_over_time() {
        let t0 = Instant::now();
        let limiter = FailureLimiter::new(3, 100, t0);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for _ in 0..3 {
            assert_eq!(limiter.take(a, "demo", t0), None);
        }
        let wait = limiter.take(a, "demo", t0).unwrap();
        assert_eq!(
            wait,
            Duration::from_secs(20),
            "3 per minute: one every 20 s"
        );
        assert_eq!(limiter.take(b, "demo", t0), None, "other addresses are not");
        limiter.refund(a, "demo", t0);
        assert_eq!(
            limiter.take(a, "demo", t0),
            None,
            "a success gives its take back"
        );
        assert!(limiter.take(a, "demo", t0).is_some());
        let later = t0 + Duration::from_secs(20);
        assert_eq!(limiter.take(a, "demo", later), None);
    }

    #[test]
    fn a_connector_is_blocked_across_addresses() {
        let t0 = Instant::now();
        let limiter = FailureLimiter::new(100, 2, t0);
        let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
        assert_eq!(limiter.take(ip("10.0.0.1"), "demo", t0), None);
        assert_eq!(limiter.take(ip("10.0.0.2"), "demo", t0), None);
        assert!(limiter.take(ip("10.0.0.3"), "demo", t0).is_some());
        assert_eq!(limiter.take(ip("10.0.0.3"), "other", t0), None);
    }

    #[test]
    fn the_address_map_is_bounded() {
        let t0 = Instant::now();
        let limiter = FailureLimiter::new(1, 1_000_000, t0);
        for i in 0..(MAX_ADDRESSES as u32 + 100) {
            limiter.take(IpAddr::from(i.to_be_bytes()), "demo", t0);
        }
        assert_eq!(limiter.inner.lock().0.map.len(), MAX_ADDRESSES);
        // Addresses beyond the bound share the overflow bucket, which is now empty.
        let late = IpAddr::from((MAX_ADDRESSES as u32 + 50).to_be_bytes());
        assert!(limiter.take(late, "demo", t0).is_some());
    }
}
