//! Connector secret tokens: generation, hashing for storage, and the per-request check.
//!
//! Tokens are stored only as Argon2id PHC strings. Verifying Argon2 on every request would cost
//! milliseconds, so a [`TokenVerifier`] remembers the SHA-256 digest of the last token that
//! verified and compares later requests against it in constant time. A token that does not match
//! the remembered digest always goes through the full Argon2 check.

use std::sync::Arc;

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use parking_lot::RwLock;
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Microsoft's host requires at least 12 characters; so do we.
pub const MIN_TOKEN_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("a secret token must be at least {MIN_TOKEN_LEN} characters")]
    TooShort,
    #[error("not an Argon2 PHC hash string (expected `$argon2id$...`): {0}")]
    BadHash(String),
    #[error("hashing failed: {0}")]
    Hashing(String),
}

/// A stored token hash (Argon2 PHC string).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenHash(String);

impl TokenHash {
    pub fn parse(s: &str) -> Result<Self, TokenError> {
        let parsed = PasswordHash::new(s).map_err(|e| TokenError::BadHash(e.to_string()))?;
        if !parsed.algorithm.as_str().starts_with("argon2") {
            return Err(TokenError::BadHash(format!(
                "algorithm `{}`",
                parsed.algorithm
            )));
        }
        Ok(Self(s.to_string()))
    }

    fn verify(&self, token: &str) -> bool {
        PasswordHash::new(&self.0).is_ok_and(|h| {
            Argon2::default()
                .verify_password(token.as_bytes(), &h)
                .is_ok()
        })
    }
}

impl std::fmt::Display for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Hash a token for a connector file.
pub fn hash_token(token: &str) -> Result<TokenHash, TokenError> {
    if token.chars().count() < MIN_TOKEN_LEN {
        return Err(TokenError::TooShort);
    }
    let salt = SaltString::generate(&mut OsRng);
    let hash = Argon2::default()
        .hash_password(token.as_bytes(), &salt)
        .map_err(|e| TokenError::Hashing(e.to_string()))?;
    Ok(TokenHash(hash.to_string()))
}

/// A new random token: 32 characters of [A-Za-z0-9], about 190 bits.
pub fn generate_token() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..32)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

/// The token a rotation replaced (`ecmahost connector rotate-token`): it keeps working until
/// `expires`, so that the IdP can be given the new one without a failed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreviousToken {
    pub hash: TokenHash,
    pub expires: std::time::SystemTime,
}

/// Checks bearer tokens for one connector.
#[derive(Clone)]
pub struct TokenVerifier {
    hash: TokenHash,
    accepted: Arc<RwLock<Option<[u8; 32]>>>,
    previous: Option<PreviousToken>,
    /// The digest of the previous token once it verified; honoured only until it expires.
    accepted_previous: Arc<RwLock<Option<[u8; 32]>>>,
}

fn digest_matches(slot: &RwLock<Option<[u8; 32]>>, digest: &[u8; 32]) -> bool {
    slot.read()
        .as_ref()
        .is_some_and(|known| bool::from(known.ct_eq(digest)))
}

impl TokenVerifier {
    pub fn new(hash: TokenHash) -> Self {
        Self {
            hash,
            accepted: Arc::new(RwLock::new(None)),
            previous: None,
            accepted_previous: Arc::new(RwLock::new(None)),
        }
    }

    /// Also accept the token a rotation replaced, until it expires.
    pub fn with_previous(mut self, previous: Option<PreviousToken>) -> Self {
        self.previous = previous;
        self
    }

    fn previous_valid(&self) -> bool {
        self.previous
            .as_ref()
            .is_some_and(|p| std::time::SystemTime::now() < p.expires)
    }

    /// The cheap path: does `token` equal the last token that passed the full check?
    pub fn matches_cached(&self, token: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        digest_matches(&self.accepted, &digest)
            || (digest_matches(&self.accepted_previous, &digest) && self.previous_valid())
    }

    /// The full Argon2 check; remembers the token's digest on success. Slow: call it from a
    /// blocking thread.
    pub fn verify_slow(&self, token: &str) -> bool {
        let digest = Some(Sha256::digest(token.as_bytes()).into());
        if self.hash.verify(token) {
            *self.accepted.write() = digest;
            return true;
        }
        match &self.previous {
            Some(p) if self.previous_valid() && p.hash.verify(token) => {
                *self.accepted_previous.write() = digest;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_tokens_are_refused() {
        assert!(matches!(hash_token("short"), Err(TokenError::TooShort)));
    }

    #[test]
    fn right_token_passes_wrong_token_fails_and_cache_is_exact() {
        let token = generate_token();
        assert_eq!(token.len(), 32);
        let v = TokenVerifier::new(hash_token(&token).unwrap());
        assert!(
            !v.matches_cached(&token),
            "nothing cached before the first full check"
        );
        assert!(!v.verify_slow("not-the-token-at-all"));
        assert!(v.verify_slow(&token));
        assert!(v.matches_cached(&token));
        assert!(!v.matches_cached(&format!("{token}x")));
        assert!(!v.matches_cached(""));
    }

    #[test]
    fn a_rotated_token_works_until_it_expires() {
        let (old, new) = ("the old token value", "the new token value");
        let previous = |expires| PreviousToken {
            hash: hash_token(old).unwrap(),
            expires,
        };
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
        let v = TokenVerifier::new(hash_token(new).unwrap()).with_previous(Some(previous(later)));
        assert!(v.verify_slow(new));
        assert!(v.verify_slow(old));
        assert!(v.matches_cached(old) && v.matches_cached(new));
        assert!(!v.verify_slow("neither of the two"));

        let past = std::time::SystemTime::now() - std::time::Duration::from_secs(1);
        let v = TokenVerifier::new(hash_token(new).unwrap()).with_previous(Some(previous(past)));
        assert!(!v.verify_slow(old), "an expired previous token is refused");
        assert!(!v.matches_cached(old));
        assert!(v.verify_slow(new));
    }

    #[test]
    fn hashes_are_salted_and_parse_back() {
        let a = hash_token("same token value").unwrap();
        let b = hash_token("same token value").unwrap();
        assert_ne!(a, b);
        assert_eq!(TokenHash::parse(&a.to_string()).unwrap(), a);
        assert!(TokenHash::parse("plain text").is_err());
    }
}
