//! Random ids for things that must never collide (sessions, runs, record parts).

use rand::distr::Alphanumeric;
use rand::Rng;

/// A random id in the style of the real server's cuids: `<prefix>_<24 lowercase alphanumerics>`.
pub fn random_id(prefix: &str) -> String {
    let s: String = rand::rng().sample_iter(&Alphanumeric).take(24).map(char::from).collect();
    format!("{prefix}_{}", s.to_lowercase())
}
