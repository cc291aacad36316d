//! Signatures on domain events as they travel on NATS.
//!
//! NATS is a network service, not a trusted bus: a client that may publish there must not be
//! able to forge an event (a `RoleChanged` to admin for itself) or alter one. The relay signs
//! every event it publishes, HMAC-SHA256 under a key only the server holds, over the subject and
//! the payload; projectors apply only events whose signature checks (and, once, the unsigned
//! events an earlier version published before signing began). This is defence in depth beside
//! NATS's own permissions: pure computation, no I/O.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header an event's signature travels in.
pub const SIGNATURE_HEADER: &str = "Pga-Event-Signature";

/// The signature scheme's version, the prefix of every signature: a later scheme can be
/// introduced beside it.
const VERSION: &str = "v1=";

type HmacSha256 = Hmac<Sha256>;

/// The server's event signing key.
#[derive(Clone)]
pub struct EventSeal {
    key: [u8; 32],
    /// Keys derived from earlier server secrets: they verify, never sign (a secret can be
    /// rotated without making the events already on the stream unverifiable).
    previous: Vec<[u8; 32]>,
}

impl std::fmt::Debug for EventSeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventSeal(…)")
    }
}

/// Why an event's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No signature header.
    #[error("the event is not signed (no {SIGNATURE_HEADER} header): it was not published by the server's relay")]
    Missing,
    /// A signature that is not ours, or a message altered after signing.
    #[error("the event's signature does not match: forged, altered, or signed under another key")]
    Mismatch,
}

impl EventSeal {
    /// The signing key derived from a server secret (the JWT secret every server role holds),
    /// under a label of its own so the two uses never share a key.
    pub fn derive(server_secret: &[u8]) -> Self {
        Self {
            key: derive_key(server_secret),
            previous: Vec::new(),
        }
    }

    /// The same seal, also accepting signatures made under earlier server secrets.
    #[must_use]
    pub fn with_previous<'a>(mut self, secrets: impl IntoIterator<Item = &'a [u8]>) -> Self {
        self.previous = secrets.into_iter().map(derive_key).collect();
        self
    }

    /// The signature header's value for an event published on `subject` with `payload`.
    pub fn sign(&self, subject: &str, payload: &[u8]) -> String {
        let tag = self.tag(subject, payload).finalize().into_bytes();
        let mut out = String::with_capacity(VERSION.len() + 64);
        out.push_str(VERSION);
        for b in tag {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }

    /// Checks a signature header's value (in constant time).
    ///
    /// # Errors
    /// [`SignatureError`] when it is missing or does not match.
    pub fn verify(
        &self,
        subject: &str,
        payload: &[u8],
        signature: Option<&str>,
    ) -> Result<(), SignatureError> {
        let hex = signature
            .ok_or(SignatureError::Missing)?
            .strip_prefix(VERSION)
            .ok_or(SignatureError::Mismatch)?;
        let bytes = decode_hex(hex).ok_or(SignatureError::Mismatch)?;
        std::iter::once(&self.key)
            .chain(&self.previous)
            .any(|key| tag(key, subject, payload).verify_slice(&bytes).is_ok())
            .then_some(())
            .ok_or(SignatureError::Mismatch)
    }

    fn tag(&self, subject: &str, payload: &[u8]) -> HmacSha256 {
        tag(&self.key, subject, payload)
    }
}

fn derive_key(server_secret: &[u8]) -> [u8; 32] {
    let mut mac = mac(server_secret);
    mac.update(b"pganalytics domain event signature v1");
    mac.finalize().into_bytes().into()
}

fn tag(key: &[u8], subject: &str, payload: &[u8]) -> HmacSha256 {
    let mut mac = mac(key);
    // Length-prefixed, so no subject/payload split can be shifted into another.
    mac.update(&(subject.len() as u64).to_be_bytes());
    mac.update(subject.as_bytes());
    mac.update(payload);
    mac
}

fn mac(key: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length.
    HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_checks_for_its_message_only() {
        let seal = EventSeal::derive(b"a server secret of some length, 32+");
        let sig = seal.sign("pga.events.user.1", b"{\"a\":1}");
        assert_eq!(
            seal.verify("pga.events.user.1", b"{\"a\":1}", Some(&sig)),
            Ok(())
        );
        // Altered payload, another subject, another key, garbage, nothing.
        assert_eq!(
            seal.verify("pga.events.user.1", b"{\"a\":2}", Some(&sig)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            seal.verify("pga.events.user.2", b"{\"a\":1}", Some(&sig)),
            Err(SignatureError::Mismatch)
        );
        let other = EventSeal::derive(b"another server secret of some length");
        assert_eq!(
            other.verify("pga.events.user.1", b"{\"a\":1}", Some(&sig)),
            Err(SignatureError::Mismatch)
        );
        for bad in ["", "v1=", "v1=zz", "v2=00", &sig[..sig.len() - 1]] {
            assert_eq!(
                seal.verify("pga.events.user.1", b"{\"a\":1}", Some(bad)),
                Err(SignatureError::Mismatch),
                "{bad:?}"
            );
        }
        assert_eq!(
            seal.verify("pga.events.user.1", b"{\"a\":1}", None),
            Err(SignatureError::Missing)
        );
        assert_eq!(format!("{seal:?}"), "EventSeal(…)");
    }

    #[test]
    fn after_a_rotation_old_signatures_still_verify_and_new_ones_use_the_new_key() {
        let old = EventSeal::derive(b"the old server secret, long enough");
        let signed_before = old.sign("s", b"p");
        let rotated = EventSeal::derive(b"the new server secret, long enough")
            .with_previous([b"the old server secret, long enough".as_slice()]);
        assert_eq!(rotated.verify("s", b"p", Some(&signed_before)), Ok(()));
        let signed_after = rotated.sign("s", b"p");
        assert_ne!(signed_after, signed_before);
        assert_eq!(
            old.verify("s", b"p", Some(&signed_after)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn the_subject_and_payload_cannot_be_shifted_into_each_other() {
        let seal = EventSeal::derive(b"a server secret of some length, 32+");
        assert_ne!(seal.sign("ab", b"c"), seal.sign("a", b"bc"));
    }
}
