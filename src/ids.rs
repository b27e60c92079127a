//! Random identifiers and jitter without a random-number crate.
//!
//! `RandomState` is seeded from the OS once per process and perturbed per instance; hashing a counter
//! and the clock through it gives ids unique enough for X-Part-Id and message ids, and jitter for
//! backoff. Nothing here is used for cryptography.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A random-looking u64, different on every call.
pub fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    h.write_u32(std::process::id());
    h.finish()
}

/// A uniformly distributed float in [0, 1).
pub fn random_unit() -> f64 {
    (random_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// A fresh id such as `tchat-3f9a0c1d2e4b5a69c0ffee1234567890` with the given prefix.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}{:016x}{:016x}", random_u64(), random_u64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            assert!(seen.insert(new_id("p-")));
        }
    }

    #[test]
    fn unit_is_in_range() {
        for _ in 0..10_000 {
            let u = random_unit();
            assert!((0.0..1.0).contains(&u));
        }
    }
}
