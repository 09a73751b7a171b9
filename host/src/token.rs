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

/// Checks bearer tokens for one connector.
#[derive(Clone)]
pub struct TokenVerifier {
    hash: TokenHash,
    accepted: Arc<RwLock<Option<[u8; 32]>>>,
}

impl TokenVerifier {
    pub fn new(hash: TokenHash) -> Self {
        Self {
            hash,
            accepted: Arc::new(RwLock::new(None)),
        }
    }

    /// The cheap path: does `token` equal the last token that passed the full check?
    pub fn matches_cached(&self, token: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        self.accepted
            .read()
            .as_ref()
            .is_some_and(|known| bool::from(known.ct_eq(&digest)))
    }

    /// The full Argon2 check; remembers the token's digest on success. Slow: call it from a
    /// blocking thread.
    pub fn verify_slow(&self, token: &str) -> bool {
        if !self.hash.verify(token) {
            return false;
        }
        *self.accepted.write() = Some(Sha256::digest(token.as_bytes()).into());
        true
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
    fn hashes_are_salted_and_parse_back() {
        let a = hash_token("same token value").unwrap();
        let b = hash_token("same token value").unwrap();
        assert_ne!(a, b);
        assert_eq!(TokenHash::parse(&a.to_string()).unwrap(), a);
        assert!(TokenHash::parse("plain text").is_err());
    }
}
