//! Sealing managed-instance passwords with AES-256-GCM.
//!
//! A fresh 96-bit nonce per sealing; the key id (the first 8 bytes of SHA-256 of the key, hex)
//! travels with the ciphertext so that keys can be rotated: the current key seals, the current
//! and previous keys open, and `pganalytics rotate-key` re-seals everything under the current
//! one. No key configured: there is no cipher, and the server refuses to store passwords.

use aes_gcm::aead::{Aead, KeyInit};
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
    /// Corrupt or tampered with.
    #[error("the sealed credential is corrupt or was tampered with")]
    Corrupt,
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

    /// Seals a password.
    pub fn seal(&self, password: &str) -> SealedCredential {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let (id, cipher) = &self.current;
        // Encryption with a valid key and nonce cannot fail for in-memory buffers.
        let ciphertext = cipher
            .encrypt(Nonce::from_slice(&nonce), password.as_bytes())
            .unwrap_or_default();
        SealedCredential {
            key_id: id.clone(),
            nonce: B64.encode(nonce),
            ciphertext: B64.encode(ciphertext),
        }
    }

    /// Opens a sealed password.
    ///
    /// # Errors
    /// [`CredentialError`].
    pub fn open(&self, sealed: &SealedCredential) -> Result<String, CredentialError> {
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
        let plain = cipher
            .decrypt(Nonce::from_slice(&nonce), ciphertext.as_ref())
            .map_err(|_| CredentialError::Corrupt)?;
        String::from_utf8(plain).map_err(|_| CredentialError::Corrupt)
    }

    /// Re-seals under the current key; `None` when it already is.
    ///
    /// # Errors
    /// [`CredentialError`] when it cannot be opened.
    pub fn reseal(
        &self,
        sealed: &SealedCredential,
    ) -> Result<Option<SealedCredential>, CredentialError> {
        if sealed.key_id == self.current.0 {
            return Ok(None);
        }
        Ok(Some(self.seal(&self.open(sealed)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealing_uses_a_fresh_nonce_and_opens_with_the_right_key_only() {
        let cipher = CredentialCipher::new(&[7; 32], &[]);
        let a = cipher.seal("p@ss 'w=rd\"");
        let b = cipher.seal("p@ss 'w=rd\"");
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
        assert!(!a.ciphertext.contains("p@ss"));
        assert_eq!(cipher.open(&a).as_deref(), Ok("p@ss 'w=rd\""));
        let other = CredentialCipher::new(&[8; 32], &[]);
        assert!(matches!(
            other.open(&a),
            Err(CredentialError::UnknownKey(_))
        ));
        let mut tampered = a.clone();
        tampered.ciphertext = B64.encode(b"not the ciphertext at all");
        assert_eq!(cipher.open(&tampered), Err(CredentialError::Corrupt));
    }

    #[test]
    fn rotation_reseals_old_credentials_under_the_new_key() {
        let old = CredentialCipher::new(&[1; 32], &[]);
        let sealed = old.seal("secret");
        let rotated = CredentialCipher::new(&[2; 32], &[[1; 32]]);
        assert_eq!(rotated.open(&sealed).as_deref(), Ok("secret"));
        let resealed = rotated.reseal(&sealed).expect("opens").expect("changed");
        assert_eq!(resealed.key_id, rotated.current_key_id());
        assert_eq!(rotated.reseal(&resealed), Ok(None));
        assert_eq!(rotated.open(&resealed).as_deref(), Ok("secret"));
    }
}
