//! A string that never shows itself in logs, errors, panics or `Debug` output.
//!
//! Tokens (secret API keys, public access tokens) travel through many layers; wrapping them at the
//! edge means no `{:?}` of a struct that holds one can leak it.

use std::fmt;

/// A secret such as a secret API key or a public access token (JWT).
///
/// `Debug` and `Display` print `[redacted]`; the value is reachable only through [`Secret::expose`].
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself: use it only to put it on the wire or into saved state.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The run a public access token is scoped to (its `read:runs:<id>` scope), read from the JWT
    /// payload without verifying it: the agent's turn-complete token names the live run, which is
    /// how the chat follows continuations it did not start. `None` for anything else.
    pub(crate) fn run_scope(&self) -> Option<String> {
        let payload = self.0.split('.').nth(1)?;
        let claims: serde_json::Value = serde_json::from_slice(&base64url_decode(payload)?).ok()?;
        claims
            .get("scopes")?
            .as_array()?
            .iter()
            .filter_map(|s| s.as_str()?.strip_prefix("read:runs:"))
            .find(|id| !id.is_empty())
            .map(str::to_owned)
    }
}

/// Unpadded (or padded) base64url, as JWT segments use it.
fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in text.trim_end_matches('=').bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new("tr_dev_very_secret_value");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(s.expose(), "tr_dev_very_secret_value");
    }
}

#[cfg(test)]
mod run_scope_tests {
    use super::*;

    #[test]
    fn run_scope_is_read_from_the_jwt_payload() {
        // {"scopes":["read:sessions:c","read:runs:run_abc"]}
        let payload = "eyJzY29wZXMiOlsicmVhZDpzZXNzaW9uczpjIiwicmVhZDpydW5zOnJ1bl9hYmMiXX0";
        assert_eq!(Secret::new(format!("h.{payload}.sig")).run_scope().as_deref(), Some("run_abc"));
        assert_eq!(Secret::new("tr_dev_key").run_scope(), None);
        assert_eq!(Secret::new("h.!!!.sig").run_scope(), None);
        assert_eq!(base64url_decode("aGk").unwrap(), b"hi");
        assert_eq!(base64url_decode("aGk_-w==").unwrap(), [b'h', b'i', 0x3f, 0xfb]);
    }
}
