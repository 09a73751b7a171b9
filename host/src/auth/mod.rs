//! The token gate: decides whether a request's bearer token opens a connector, cheaply for the
//! right token and for repeated wrong ones, and with bounded CPU and memory for a flood.
//!
//! Order of a check: the digest of the last accepted token (constant time, no lock contention);
//! then the failure limits (429 once an address or a connector used them up, [`limiter`]); then
//! the connector's set of recently refused digests; only then Argon2 on the bounded
//! [`pool`]. An unknown connector is checked against a throw-away hash the same way, so a wrong
//! name and a wrong token cost the same and answer the same 401.
//!
//! A 429 is answered after [`TARPIT`] while fewer than [`TARPIT_SLOTS`] are waiting (at once
//! otherwise): a client that ignores `Retry-After` is slowed to one request per connection per
//! second, so a flood cannot take the CPU from legitimate clients, and the waiting answers
//! hold a bounded amount of memory.

pub mod limiter;
pub mod pool;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use self::limiter::FailureLimiter;
use self::pool::{PoolRefusal, TokenCheckPool};
use crate::config::Limits;
use crate::token::{digest, generate_token, hash_token, TokenVerifier};

/// Why a request was not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No token, a wrong token, or no such connector: all look the same to the client.
    Unauthorized,
    /// Too many failed checks; try again after this long.
    TooManyFailures(Duration),
}

/// How long a 429 waits before it is sent.
pub const TARPIT: Duration = Duration::from_secs(1);
/// How many 429s may wait at once.
pub const TARPIT_SLOTS: usize = 1024;

pub struct TokenGate {
    limiter: FailureLimiter,
    tarpit: Arc<Semaphore>,
    pool: TokenCheckPool,
    /// Stands in for connectors that do not exist.
    nobody: TokenVerifier,
}

impl TokenGate {
    pub fn new(limits: &Limits) -> std::io::Result<Self> {
        let nobody = hash_token(&generate_token())
            .map(TokenVerifier::new)
            .map_err(std::io::Error::other)?;
        Ok(Self {
            limiter: FailureLimiter::new(
                limits.auth_failures_per_address_per_minute,
                limits.auth_failures_per_connector_per_minute,
                Instant::now(),
            ),
            pool: TokenCheckPool::new(limits.token_check_workers)?,
            nobody,
            tarpit: Arc::new(Semaphore::new(TARPIT_SLOTS)),
        })
    }

    /// Check `token` for `connector` (`None`: no connector has the name asked for), sent from
    /// `address`. `name` keys the per-connector limit.
    pub async fn check(
        &self,
        connector: Option<(&str, &TokenVerifier)>,
        token: Option<&str>,
        address: IpAddr,
    ) -> Result<(), Refusal> {
        match self.decide(connector, token, address).await {
            Err(Refusal::TooManyFailures(wait)) => match self.tarpit.try_acquire() {
                Ok(_waiting) => {
                    tokio::time::sleep(TARPIT).await;
                    Err(Refusal::TooManyFailures(wait.saturating_sub(TARPIT)))
                }
                Err(_) => Err(Refusal::TooManyFailures(wait)),
            },
            other => other,
        }
    }

    async fn decide(
        &self,
        connector: Option<(&str, &TokenVerifier)>,
        token: Option<&str>,
        address: IpAddr,
    ) -> Result<(), Refusal> {
        let (name, verifier) = connector.unwrap_or(("", &self.nobody));
        let presented = token.map(|t| (t, digest(t)));
        if let Some((_, d)) = &presented {
            if verifier.matches_digest(d) {
                return Ok(());
            }
        }
        if let Some(wait) = self.limiter.take(address, name, Instant::now()) {
            return Err(Refusal::TooManyFailures(wait));
        }
        let verified = match presented {
            Some((token, d)) if !verifier.recently_refused(&d) => {
                match self.pool.verify(verifier.clone(), token).await {
                    Ok(ok) => ok,
                    Err(PoolRefusal::Busy) => {
                        self.limiter.refund(address, name, Instant::now());
                        return Err(Refusal::TooManyFailures(Duration::from_secs(1)));
                    }
                    Err(PoolRefusal::Stopped) => false,
                }
            }
            _ => false,
        };
        // A right token for a name that does not exist is still refused.
        if verified && connector.is_some() {
            self.limiter.refund(address, name, Instant::now());
            return Ok(());
        }
        Err(Refusal::Unauthorized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::hash_token;

    #[tokio::test]
    async fn repeated_wrong_tokens_and_unknown_names_cost_one_argon2_check_each() {
        let gate = TokenGate::new(&Limits::default()).unwrap();
        let token = generate_token();
        let verifier = TokenVerifier::new(hash_token(&token).unwrap());
        let address: IpAddr = "10.1.2.3".parse().unwrap();
        let demo = Some(("demo", &verifier));
        for _ in 0..5 {
            let refused = gate.check(demo, Some("wrong token value"), address).await;
            assert_eq!(refused, Err(Refusal::Unauthorized));
        }
        assert_eq!(gate.pool.checks_run(), 1, "refused again from the cache");
        assert_eq!(gate.check(demo, Some(&token), address).await, Ok(()));
        assert_eq!(gate.check(demo, Some(&token), address).await, Ok(()));
        assert_eq!(gate.pool.checks_run(), 2, "accepted again from the cache");
        // An unknown name with the right token of another connector is refused the same way.
        let unknown = gate.check(None, Some(&token), address).await;
        assert_eq!(unknown, Err(Refusal::Unauthorized));
        assert_eq!(
            gate.check(demo, None, address).await,
            Err(Refusal::Unauthorized)
        );
    }
}
