//! Sealing managed-instance passwords with AES-256-GCM.
//!
//! A fresh 96-bit nonce per sealing; the key id (the first 8 bytes of SHA-256 of the key, hex)
//! travels with the ciphertext so that keys can be rotated: the current key seals, the current
//! and previous keys open, and `pganalytics rotate-key` re-seals everything under the current
//! one. No key configured: there is no cipher, and the server refuses to store passwords.
//!
//! A password is sealed with associated data naming its instance and target
//! ([`ConnectionSpec::credential_binding`]): host, port, database, username and sslmode. Moved to
//! another instance, or left behind when the instance points elsewhere, it no longer opens.
//! Credentials sealed before that ([`SealedCredential::UNBOUND`], in old events) still open,
//! and `rotate-key` re-seals them bound.
//!
//! [`ConnectionSpec::credential_binding`]: domain::managed_instance::ConnectionSpec::credential_binding

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use domain::managed_instance::SealedCredential;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Why a credential could not be opened. Never carries the plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// Sealed with a key that is not configured.
    #[error(
        "sealed with key {0}, which is not configured (set it in PGA_PREVIOUS_ENCRYPTION_KEYS)"
    )]
    UnknownKey(String),
    /// Corrupt, tampered with, or sealed for another instance or target.
    #[error("the sealed credential is corrupt, was tampered with, or belongs to another instance or target (enter the password again)")]
    Corrupt,
    /// A sealed format this version does not know.
    #[error("the sealed credential has format {0}, which this version cannot read")]
    UnknownFormat(u8),
}

/// The current key and the previous ones.
#[derive(Clone)]
pub struct CredentialCipher {
    current: (String, Aes256Gcm),
    previous: Vec<(String, Aes256Gcm)>,
}

impl std::fmt::Debug for CredentialCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialCipher")
            .field("current", &self.current.0)
            .finish_non_exhaustive()
    }
}

/// The id of a key: its SHA-256, first 8 bytes, hex.
pub fn key_id(key: &[u8; 32]) -> String {
    Sha256::digest(key)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl CredentialCipher {
    /// A cipher sealing with `current` and opening with it or any of `previous`.
    pub fn new(current: &[u8; 32], previous: &[[u8; 32]]) -> Self {
        let make = |k: &[u8; 32]| (key_id(k), Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(k)));
        Self {
            current: make(current),
            previous: previous.iter().map(make).collect(),
        }
    }

    /// The id of the sealing key.
    pub fn current_key_id(&self) -> &str {
        &self.current.0
    }

    /// Seals a password bound to `binding` (the associated data; see the module doc).
    pub fn seal(&self, password: &str, binding: &[u8]) -> SealedCredential {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let (id, cipher) = &self.current;
        let payload = Payload {
            msg: password.as_bytes(),
            aad: binding,
        };
        // Encryption with a valid key and nonce cannot fail for in-memory buffers.
        let ciphertext = cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        SealedCredential {
            key_id: id.clone(),
            nonce: B64.encode(nonce),
            ciphertext: B64.encode(ciphertext),
            version: SealedCredential::BOUND,
        }
    }

    /// Opens a sealed password for the instance and target `binding` describes. A credential
    /// sealed before binding existed opens without it.
    ///
    /// # Errors
    /// [`CredentialError`]; [`CredentialError::Corrupt`] also when it was sealed for another
    /// binding.
    pub fn open(
        &self,
        sealed: &SealedCredential,
        binding: &[u8],
    ) -> Result<String, CredentialError> {
        let aad: &[u8] = match sealed.version {
            SealedCredential::UNBOUND => &[],
            SealedCredential::BOUND => binding,
            other => return Err(CredentialError::UnknownFormat(other)),
        };
        let cipher = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|(id, _)| *id == sealed.key_id)
            .map(|(_, c)| c)
            .ok_or_else(|| CredentialError::UnknownKey(sealed.key_id.clone()))?;
        let nonce = B64
            .decode(&sealed.nonce)
            .map_err(|_| CredentialError::Corrupt)?;
        if nonce.len() != 12 {
            return Err(CredentialError::Corrupt);
        }
        let ciphertext = B64
            .decode(&sealed.ciphertext)
            .map_err(|_| CredentialError::Corrupt)?;
        let payload = Payload {
            msg: &ciphertext,
            aad,
        };
        let plain = cipher
            .decrypt(Nonce::from_slice(&nonce), payload)
            .map_err(|_| CredentialError::Corrupt)?;
        String::from_utf8(plain).map_err(|_| CredentialError::Corrupt)
    }

    /// Re-seals under the current key and bound to `binding`; `None` when it already is both.
    ///
    /// # Errors
    /// [`CredentialError`] when it cannot be opened.
    pub fn reseal(
        &self,
        sealed: &SealedCredential,
        binding: &[u8],
    ) -> Result<Option<SealedCredential>, CredentialError> {
        if sealed.key_id == self.current.0 && sealed.version == SealedCredential::BOUND {
            return Ok(None);
        }
        Ok(Some(self.seal(&self.open(sealed, binding)?, binding)))
    }
}

#[cfg(test)]
mod tests {
    use domain::managed_instance::ConnectionSpec;
    use uuid::Uuid;

    use super::*;

    fn target(host: &str) -> ConnectionSpec {
        ConnectionSpec::parse(host, 5432, "app", "monitor", "require", 5).expect("valid")
    }

    fn binding() -> Vec<u8> {
        target("db.internal").credential_binding(Uuid::from_u128(1))
    }

    /// What sealing was before credentials were bound: no associated data, no version.
    fn seal_unbound(key: &[u8; 32], password: &str) -> SealedCredential {
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
        let nonce = [3u8; 12];
        let ciphertext = cipher
            .encrypt(Nonce::from_slice(&nonce), password.as_bytes())
            .expect("encrypt");
        let json = serde_json::json!({
            "key_id": key_id(key),
            "nonce": B64.encode(nonce),
            "ciphertext": B64.encode(ciphertext),
        });
        serde_json::from_value(json).expect("an old event's credential still decodes")
    }

    #[test]
    fn sealing_uses_a_fresh_nonce_and_opens_with_the_right_key_only() {
        let cipher = CredentialCipher::new(&[7; 32], &[]);
        let a = cipher.seal("p@ss 'w=rd\"", &binding());
        let b = cipher.seal("p@ss 'w=rd\"", &binding());
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
        assert!(!a.ciphertext.contains("p@ss"));
        assert_eq!(cipher.open(&a, &binding()).as_deref(), Ok("p@ss 'w=rd\""));
        let other = CredentialCipher::new(&[8; 32], &[]);
        assert!(matches!(
            other.open(&a, &binding()),
            Err(CredentialError::UnknownKey(_))
        ));
        let mut tampered = a.clone();
        tampered.ciphertext = B64.encode(b"not the ciphertext at all");
        assert_eq!(
            cipher.open(&tampered, &binding()),
            Err(CredentialError::Corrupt)
        );
    }

    #[test]
    fn a_sealed_password_does_not_open_for_another_instance_or_target() {
        let cipher = CredentialCipher::new(&[7; 32], &[]);
        let id = Uuid::from_u128(1);
        let sealed = cipher.seal(
            "admin secret",
            &target("db.internal").credential_binding(id),
        );
        assert_eq!(sealed.version, SealedCredential::BOUND);
        let elsewhere = [
            target("db.internal").credential_binding(Uuid::from_u128(2)),
            target("attacker.example").credential_binding(id),
            ConnectionSpec::parse("db.internal", 5433, "app", "monitor", "require", 5)
                .expect("valid")
                .credential_binding(id),
            ConnectionSpec::parse("db.internal", 5432, "app", "monitor", "disable", 5)
                .expect("valid")
                .credential_binding(id),
            Vec::new(),
        ];
        for binding in elsewhere {
            assert_eq!(
                cipher.open(&sealed, &binding),
                Err(CredentialError::Corrupt)
            );
        }
        // Claiming the old, unbound format does not help either.
        let downgraded = SealedCredential {
            version: SealedCredential::UNBOUND,
            ..sealed.clone()
        };
        assert_eq!(cipher.open(&downgraded, &[]), Err(CredentialError::Corrupt));
        let unknown = SealedCredential {
            version: 9,
            ..sealed.clone()
        };
        assert_eq!(
            cipher.open(&unknown, &target("db.internal").credential_binding(id)),
            Err(CredentialError::UnknownFormat(9))
        );
        assert_eq!(
            cipher
                .open(&sealed, &target("db.internal").credential_binding(id))
                .as_deref(),
            Ok("admin secret")
        );
    }

    #[test]
    fn an_unbound_credential_from_an_old_event_opens_and_rotation_binds_it() {
        let old = seal_unbound(&[7; 32], "legacy secret");
        assert_eq!(old.version, SealedCredential::UNBOUND);
        let cipher = CredentialCipher::new(&[7; 32], &[]);
        assert_eq!(
            cipher.open(&old, &binding()).as_deref(),
            Ok("legacy secret")
        );
        // Same key, but unbound: rotate-key re-seals it bound.
        let bound = cipher
            .reseal(&old, &binding())
            .expect("opens")
            .expect("changed");
        assert_eq!(bound.version, SealedCredential::BOUND);
        assert_eq!(cipher.reseal(&bound, &binding()), Ok(None));
        assert_eq!(
            cipher.open(&bound, &binding()).as_deref(),
            Ok("legacy secret")
        );
        let other = target("attacker.example").credential_binding(Uuid::from_u128(1));
        assert_eq!(cipher.open(&bound, &other), Err(CredentialError::Corrupt));
    }

    #[test]
    fn rotation_reseals_old_credentials_under_the_new_key() {
        let old = CredentialCipher::new(&[1; 32], &[]);
        let sealed = old.seal("secret", &binding());
        let rotated = CredentialCipher::new(&[2; 32], &[[1; 32]]);
        assert_eq!(rotated.open(&sealed, &binding()).as_deref(), Ok("secret"));
        let resealed = rotated
            .reseal(&sealed, &binding())
            .expect("opens")
            .expect("changed");
        assert_eq!(resealed.key_id, rotated.current_key_id());
        assert_eq!(rotated.reseal(&resealed, &binding()), Ok(None));
        assert_eq!(rotated.open(&resealed, &binding()).as_deref(), Ok("secret"));
    }
}
