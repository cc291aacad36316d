//! Access tokens: HS256 JWTs that name the user. The role inside is informational: the guard
//! reads the current role and active flag from the users read model on every request, so a
//! demotion, deactivation or deletion takes effect at once.

use std::time::Duration;

use chrono::Utc;
use domain::user::Role;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    /// User id.
    pub sub: String,
    /// Role when issued.
    pub role: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// Always `access`, so no other token kind signed with the key is accepted.
    pub typ: String,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Past its `exp`.
    #[error("the access token has expired; refresh it or log in again")]
    Expired,
    /// Bad signature, shape, algorithm or kind.
    #[error("the access token is invalid")]
    Invalid,
}

/// The signing key and lifetimes.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// Lifetime of an access token.
    pub access_ttl: Duration,
    /// Lifetime of a collector token.
    pub collector_ttl: Duration,
}

/// The claims of a collector token: scoped to one collector.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CollectorClaims {
    /// Collector id.
    pub sub: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// Always `collector`.
    pub typ: String,
}

impl TokenKeys {
    /// Keys from the configured secret.
    ///
    /// # Errors
    /// An empty secret (configuration refuses shorter than 32 characters before this).
    pub fn new(secret: &[u8], access_ttl: Duration) -> Result<Self, jsonwebtoken::errors::Error> {
        Ok(Self {
            encoding: EncodingKey::from_secret(secret)?,
            decoding: DecodingKey::from_secret(secret)?,
            access_ttl,
            collector_ttl: Duration::from_secs(3600),
        })
    }

    /// Issues a collector token; returns it and when it expires.
    ///
    /// # Errors
    /// The signing error.
    pub fn issue_collector(
        &self,
        collector: Uuid,
    ) -> Result<(String, chrono::DateTime<Utc>), jsonwebtoken::errors::Error> {
        let now = Utc::now();
        let ttl =
            chrono::Duration::from_std(self.collector_ttl).unwrap_or(chrono::Duration::hours(1));
        let claims = CollectorClaims {
            sub: collector.to_string(),
            iat: now.timestamp(),
            exp: (now + ttl).timestamp(),
            typ: "collector".to_owned(),
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((token, now + ttl))
    }

    /// Verifies a collector token as of `at` (now for HTTP; the time a batch reached JetStream
    /// for the projectors, with a minute of leeway for clock skew).
    ///
    /// # Errors
    /// [`TokenError`].
    pub fn verify_collector(
        &self,
        token: &str,
        at: chrono::DateTime<Utc>,
    ) -> Result<CollectorClaims, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = decode::<CollectorClaims>(token, &self.decoding, &validation)
            .map_err(|_| TokenError::Invalid)?;
        if data.claims.typ != "collector" {
            return Err(TokenError::Invalid);
        }
        if data.claims.exp < at.timestamp() {
            return Err(TokenError::Expired);
        }
        Ok(data.claims)
    }

    /// Issues an access token; returns it and its lifetime in seconds.
    ///
    /// # Errors
    /// The signing error (none for HMAC keys in practice).
    pub fn issue(
        &self,
        user: Uuid,
        role: Role,
    ) -> Result<(String, i64), jsonwebtoken::errors::Error> {
        let now = Utc::now().timestamp();
        let ttl = i64::try_from(self.access_ttl.as_secs()).unwrap_or(900);
        let claims = AccessClaims {
            sub: user.to_string(),
            role: role.as_str().to_owned(),
            iat: now,
            exp: now + ttl,
            typ: "access".to_owned(),
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((token, ttl))
    }

    /// Verifies signature, expiry (no leeway) and kind.
    ///
    /// # Errors
    /// [`TokenError`].
    pub fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data =
            decode::<AccessClaims>(token, &self.decoding, &validation).map_err(|e| {
                match e.kind() {
                    ErrorKind::ExpiredSignature => TokenError::Expired,
                    _ => TokenError::Invalid,
                }
            })?;
        if data.claims.typ != "access" {
            return Err(TokenError::Invalid);
        }
        Ok(data.claims)
    }
}

impl domain::collector::CollectorTokenVerifier for TokenKeys {
    fn verify(&self, token: &str, at: chrono::DateTime<Utc>) -> Result<String, String> {
        // Leeway: a batch published a few seconds before expiry may be stamped just after.
        let at = at - chrono::Duration::seconds(60);
        self.verify_collector(token, at)
            .map(|c| c.sub)
            .map_err(|e| match e {
                TokenError::Expired => {
                    "the collector token had expired when the batch arrived".to_owned()
                }
                TokenError::Invalid => "the collector token is not valid".to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_with_its_key_only_and_expires() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef", Duration::from_secs(60))
            .expect("key");
        let user = Uuid::new_v4();
        let (token, ttl) = keys.issue(user, Role::Editor).expect("issue");
        assert_eq!(ttl, 60);
        assert_eq!(keys.verify(&token).expect("valid").sub, user.to_string());
        let other = TokenKeys::new(
            b"another secret of thirty-two chars!",
            Duration::from_secs(60),
        )
        .expect("key");
        assert_eq!(other.verify(&token), Err(TokenError::Invalid));
        assert_eq!(keys.verify("garbage"), Err(TokenError::Invalid));
        let expired =
            TokenKeys::new(b"0123456789abcdef0123456789abcdef", Duration::ZERO).expect("key");
        let claims = AccessClaims {
            sub: user.to_string(),
            role: "admin".into(),
            iat: 0,
            exp: Utc::now().timestamp() - 5,
            typ: "access".into(),
        };
        let old =
            encode(&Header::new(Algorithm::HS256), &claims, &expired.encoding).expect("encode");
        assert_eq!(keys.verify(&old), Err(TokenError::Expired));
    }
}
