//! Connector secret tokens: generation, hashing for storage, and the per-request check.
//!
//! Tokens are stored only as Argon2id PHC strings. Verifying Argon2 on every request would cost
//! milliseconds, so a [`TokenVerifier`] remembers the SHA-256 digest of the last token that
//! verified and compares later requests against it in constant time. A token that does not match
//! the remembered digest always goes through the full Argon2 check, unless it is one of the
//! tokens refused recently: those digests are kept in a small bounded set and refused at once.
//! Argon2 runs with memory the caller owns and reuses ([`Argon2Memory`]), so a flood of wrong
//! tokens does not allocate a new 19 MiB block per check.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use parking_lot::{Mutex, RwLock};
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

/// The largest Argon2 memory cost a stored hash may ask for (KiB): it bounds the memory each
/// token-check worker keeps.
pub const MAX_MEMORY_KIB: u32 = 256 * 1024;

/// How many recently refused token digests each connector remembers.
pub const REFUSED_CAPACITY: usize = 1024;

/// A stored token hash (Argon2 PHC string), with its parts decoded once.
#[derive(Clone, Debug)]
pub struct TokenHash {
    phc: String,
    algorithm: Algorithm,
    version: Version,
    params: Params,
    salt: Vec<u8>,
    expected: Vec<u8>,
}

impl PartialEq for TokenHash {
    fn eq(&self, other: &Self) -> bool {
        self.phc == other.phc
    }
}
impl Eq for TokenHash {}

impl TokenHash {
    pub fn parse(s: &str) -> Result<Self, TokenError> {
        let bad = |e: &dyn std::fmt::Display| TokenError::BadHash(e.to_string());
        let parsed = PasswordHash::new(s).map_err(|e| bad(&e))?;
        let algorithm = Algorithm::try_from(parsed.algorithm)
            .map_err(|_| TokenError::BadHash(format!("algorithm `{}`", parsed.algorithm)))?;
        let version = parsed
            .version
            .map(Version::try_from)
            .transpose()
            .map_err(|e| bad(&e))?
            .unwrap_or_default();
        let params = Params::try_from(&parsed).map_err(|e| bad(&e))?;
        if params.m_cost() > MAX_MEMORY_KIB {
            return Err(TokenError::BadHash(format!(
                "memory cost m={} KiB is above the host's limit of {MAX_MEMORY_KIB} KiB",
                params.m_cost()
            )));
        }
        let mut salt = [0u8; 64];
        let salt = parsed
            .salt
            .ok_or_else(|| TokenError::BadHash("no salt".into()))?
            .decode_b64(&mut salt)
            .map_err(|e| bad(&e))?
            .to_vec();
        let expected = parsed
            .hash
            .ok_or_else(|| TokenError::BadHash("no hash value".into()))?
            .as_bytes()
            .to_vec();
        Ok(Self {
            phc: s.to_string(),
            algorithm,
            version,
            params,
            salt,
            expected,
        })
    }

    /// The full Argon2 check, in `memory` (grown to this hash's size once, then reused).
    fn verify(&self, token: &str, memory: &mut Argon2Memory) -> bool {
        let blocks = self.params.block_count();
        if memory.blocks.len() < blocks {
            memory.blocks.resize(blocks, Block::default());
        }
        let mut out = vec![0u8; self.expected.len()];
        Argon2::new(self.algorithm, self.version, self.params.clone())
            .hash_password_into_with_memory(
                token.as_bytes(),
                &self.salt,
                &mut out,
                &mut memory.blocks[..blocks],
            )
            .is_ok()
            && bool::from(out.ct_eq(&self.expected))
    }
}

impl std::fmt::Display for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.phc)
    }
}

/// Argon2's working memory, kept by a token-check worker across checks.
#[derive(Default)]
pub struct Argon2Memory {
    blocks: Vec<Block>,
}

impl Argon2Memory {
    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.blocks.len() * Block::SIZE
    }
}

/// The SHA-256 digest of a presented token: what both caches are keyed by.
pub type TokenDigest = [u8; 32];

pub fn digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

/// A bounded set of digests, oldest evicted first.
#[derive(Default)]
struct RefusedSet {
    set: HashSet<TokenDigest>,
    order: VecDeque<TokenDigest>,
}

impl RefusedSet {
    fn insert(&mut self, digest: TokenDigest) {
        if self.set.insert(digest) {
            self.order.push_back(digest);
            if self.order.len() > REFUSED_CAPACITY {
                if let Some(old) = self.order.pop_front() {
                    self.set.remove(&old);
                }
            }
        }
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
    // Argon2's 19 MiB working block was just freed; a host that hashed a token (the demo)
    // should not keep it.
    crate::memory::release_free();
    TokenHash::parse(&hash.to_string())
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
    accepted: Arc<RwLock<Option<TokenDigest>>>,
    previous: Option<PreviousToken>,
    /// The digest of the previous token once it verified; honoured only until it expires.
    accepted_previous: Arc<RwLock<Option<TokenDigest>>>,
    refused: Arc<Mutex<RefusedSet>>,
}

fn digest_matches(slot: &RwLock<Option<TokenDigest>>, digest: &TokenDigest) -> bool {
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
            refused: Arc::default(),
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
        self.matches_digest(&digest(token))
    }

    pub fn matches_digest(&self, digest: &TokenDigest) -> bool {
        digest_matches(&self.accepted, digest)
            || (digest_matches(&self.accepted_previous, digest) && self.previous_valid())
    }

    /// Was this token refused by the full check recently?
    pub fn recently_refused(&self, digest: &TokenDigest) -> bool {
        self.refused.lock().set.contains(digest)
    }

    /// The full Argon2 check in `memory`; remembers the token's digest as accepted or refused.
    /// Slow: call it from a token-check worker.
    pub fn verify_slow(&self, token: &str, memory: &mut Argon2Memory) -> bool {
        let digest = digest(token);
        if self.hash.verify(token, memory) {
            *self.accepted.write() = Some(digest);
            return true;
        }
        match &self.previous {
            Some(p) if self.previous_valid() && p.hash.verify(token, memory) => {
                *self.accepted_previous.write() = Some(digest);
                true
            }
            _ => {
                self.refused.lock().insert(digest);
                false
            }
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
        let mut memory = Argon2Memory::default();
        assert!(!v.recently_refused(&digest("not-the-token-at-all")));
        assert!(!v.verify_slow("not-the-token-at-all", &mut memory));
        assert!(v.recently_refused(&digest("not-the-token-at-all")));
        assert_eq!(memory.bytes(), 19 * 1024 * 1024, "Argon2id defaults");
        assert!(v.verify_slow(&token, &mut memory));
        assert_eq!(memory.bytes(), 19 * 1024 * 1024, "memory is reused");
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
        let mut memory = Argon2Memory::default();
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
        let v = TokenVerifier::new(hash_token(new).unwrap()).with_previous(Some(previous(later)));
        assert!(v.verify_slow(new, &mut memory));
        assert!(v.verify_slow(old, &mut memory));
        assert!(v.matches_cached(old) && v.matches_cached(new));
        assert!(!v.verify_slow("neither of the two", &mut memory));

        let past = std::time::SystemTime::now() - std::time::Duration::from_secs(1);
        let v = TokenVerifier::new(hash_token(new).unwrap()).with_previous(Some(previous(past)));
        assert!(
            !v.verify_slow(old, &mut memory),
            "an expired previous token is refused"
        );
        assert!(!v.matches_cached(old));
        assert!(v.verify_slow(new, &mut memory));
    }

    #[test]
    fn hashes_are_salted_and_parse_back() {
        let a = hash_token("same token value").unwrap();
        let b = hash_token("same token value").unwrap();
        assert_ne!(a, b);
        assert_eq!(TokenHash::parse(&a.to_string()).unwrap(), a);
        assert!(TokenHash::parse("plain text").is_err());
        let greedy = "$argon2id$v=19$m=4000000,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$qLml5cbx6Xr1pJ5Lw0Kxwn5vVcKpQFt2eAkYSUVOB5c";
        let err = TokenHash::parse(greedy).unwrap_err().to_string();
        assert!(err.contains("m=4000000"), "{err}");
    }

    #[test]
    fn the_refused_set_is_bounded_oldest_first() {
        let mut set = RefusedSet::default();
        for i in 0..(REFUSED_CAPACITY + 10) {
            set.insert(digest(&format!("wrong-{i}")));
        }
        assert_eq!(set.set.len(), REFUSED_CAPACITY);
        assert!(!set.set.contains(&digest("wrong-0")));
        assert!(set
            .set
            .contains(&digest(&format!("wrong-{}", REFUSED_CAPACITY + 9))));
    }
}
