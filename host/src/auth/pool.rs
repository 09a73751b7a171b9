//! The token-check pool: a few threads that run Argon2 verifications, each reusing its own
//! working memory, behind a short bounded queue.
//!
//! Memory bound: `workers` × the hash's memory cost (released after [`IDLE_RELEASE`] without a
//! check; 19 MiB for Argon2id's defaults, at most
//! [`crate::token::MAX_MEMORY_KIB`]) plus [`QUEUE`] queued tokens. A check that finds the queue
//! full is not queued: the caller answers 429.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::token::{Argon2Memory, TokenVerifier};

/// Checks waiting for a worker, at most.
pub const QUEUE: usize = 32;

/// A worker idle this long gives its Argon2 memory back (19 MiB each with the defaults), so an
/// idle host stays small; the next check allocates it again.
pub const IDLE_RELEASE: std::time::Duration = std::time::Duration::from_secs(20);

struct Job {
    verifier: TokenVerifier,
    token: String,
    reply: oneshot::Sender<bool>,
}

/// Why a check did not run.
#[derive(Debug, PartialEq, Eq)]
pub enum PoolRefusal {
    /// Every worker is busy and the queue is full.
    Busy,
    /// The pool has stopped (the host is shutting down).
    Stopped,
}

#[derive(Clone)]
pub struct TokenCheckPool {
    jobs: SyncSender<Job>,
    checks: Arc<AtomicU64>,
}

impl TokenCheckPool {
    /// Start `workers` threads (at least one).
    pub fn new(workers: usize) -> std::io::Result<Self> {
        let (jobs, queue) = sync_channel::<Job>(QUEUE);
        let queue = Arc::new(Mutex::new(queue));
        let checks = Arc::new(AtomicU64::new(0));
        for i in 0..workers.max(1) {
            let (queue, checks) = (queue.clone(), checks.clone());
            std::thread::Builder::new()
                .name(format!("token-check-{i}"))
                .spawn(move || work(&queue, &checks))?;
        }
        Ok(Self { jobs, checks })
    }

    /// Argon2 checks run so far.
    pub fn checks_run(&self) -> u64 {
        self.checks.load(Ordering::Relaxed)
    }

    /// Run the full check of `token` against `verifier` on a worker.
    pub async fn verify(&self, verifier: TokenVerifier, token: &str) -> Result<bool, PoolRefusal> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            verifier,
            token: token.to_string(),
            reply,
        };
        match self.jobs.try_send(job) {
            Ok(()) => answer.await.map_err(|_| PoolRefusal::Stopped),
            Err(TrySendError::Full(_)) => Err(PoolRefusal::Busy),
            Err(TrySendError::Disconnected(_)) => Err(PoolRefusal::Stopped),
        }
    }
}

fn work(queue: &Mutex<Receiver<Job>>, checks: &AtomicU64) {
    let mut memory = Argon2Memory::default();
    loop {
        // The lock is held only while waiting for the next job, not while checking it.
        let job = match queue.lock() {
            Ok(receiver) => receiver.recv_timeout(IDLE_RELEASE),
            Err(_) => return,
        };
        let job = match job {
            Ok(job) => job,
            Err(RecvTimeoutError::Timeout) => {
                if memory.bytes() > 0 {
                    memory = Argon2Memory::default();
                    crate::memory::release_free();
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let ok = job.verifier.verify_slow(&job.token, &mut memory);
        checks.fetch_add(1, Ordering::Relaxed);
        let _ = job.reply.send(ok);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::{generate_token, hash_token};

    #[tokio::test]
    async fn checks_run_on_the_pool_and_a_full_queue_is_refused() {
        let token = generate_token();
        let verifier = TokenVerifier::new(hash_token(&token).unwrap());
        let pool = TokenCheckPool::new(1).unwrap();
        assert_eq!(pool.verify(verifier.clone(), &token).await, Ok(true));
        assert_eq!(
            pool.verify(verifier.clone(), "wrong token!").await,
            Ok(false)
        );
        // Far more checks at once than the worker and the queue hold: some are refused.
        let all: Vec<_> = (0..QUEUE * 3)
            .map(|i| {
                let (pool, verifier) = (pool.clone(), verifier.clone());
                tokio::spawn(async move { pool.verify(verifier, &format!("wrong-{i}")).await })
            })
            .collect();
        let mut busy = 0;
        for task in all {
            if task.await.unwrap() == Err(PoolRefusal::Busy) {
                busy += 1;
            }
        }
        assert!(busy > 0, "a bounded queue refuses some checks");
    }
}
