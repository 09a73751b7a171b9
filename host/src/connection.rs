//! Per-connection guards of the SCIM listener: bounds on open connections (in all and per
//! client address) and the time-outs that close a connection with no request in progress.
//!
//! [`GuardedAcceptor`] wraps the TLS acceptor. A connection over either bound is closed as soon
//! as it is accepted, before the TLS handshake. Each accepted connection's stream counts the
//! requests in progress on it (through the wrapped service): when none is, and none has been
//! for `idle_timeout` (`header_read_timeout` before the first request), the next read fails and
//! hyper closes the connection. This holds for HTTP/1.1 and HTTP/2 alike; hyper's own HTTP/1.1
//! header-read time-out also bounds every request head.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum_server::accept::Accept;
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::config::Limits;

/// Open connections, in all and per address.
pub struct ConnectionBounds {
    max_total: usize,
    max_per_address: usize,
    total: AtomicUsize,
    per_address: Mutex<HashMap<IpAddr, usize>>,
    header_read_timeout: Duration,
    idle_timeout: Duration,
    refused: AtomicU64,
    last_warning: Mutex<Option<Instant>>,
}

impl ConnectionBounds {
    pub fn new(limits: &Limits) -> Arc<Self> {
        Arc::new(Self {
            max_total: limits.max_connections,
            max_per_address: limits.max_connections_per_address,
            total: AtomicUsize::new(0),
            per_address: Mutex::new(HashMap::new()),
            header_read_timeout: limits.header_read_timeout,
            idle_timeout: limits.idle_timeout,
            refused: AtomicU64::new(0),
            last_warning: Mutex::new(None),
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }

    /// A slot for a connection from `address`, if both bounds leave room.
    fn admit(self: &Arc<Self>, address: IpAddr) -> Option<Slot> {
        let mut per_address = self.per_address.lock();
        let mine = per_address.entry(address).or_insert(0);
        if *mine >= self.max_per_address || self.total.load(Ordering::Relaxed) >= self.max_total {
            if *mine == 0 {
                per_address.remove(&address);
            }
            drop(per_address);
            self.warn_refused(address);
            return None;
        }
        *mine += 1;
        self.total.fetch_add(1, Ordering::Relaxed);
        Some(Slot {
            bounds: self.clone(),
            address,
        })
    }

    /// Log refusals at most every 10 s, with how many there were.
    fn warn_refused(&self, address: IpAddr) {
        let refused = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
        let mut last = self.last_warning.lock();
        if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
            *last = Some(Instant::now());
            tracing::warn!(
                %address,
                refused_so_far = refused,
                open = self.open(),
                max_connections = self.max_total,
                max_connections_per_address = self.max_per_address,
                "connection refused: too many open connections"
            );
        }
    }
}

/// One admitted connection; dropping it frees its place.
struct Slot {
    bounds: Arc<ConnectionBounds>,
    address: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut per_address = self.bounds.per_address.lock();
        if let Some(n) = per_address.get_mut(&self.address) {
            *n -= 1;
            if *n == 0 {
                per_address.remove(&self.address);
            }
        }
        self.bounds.total.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Requests in progress on one connection, and how many have ended.
#[derive(Default)]
struct Activity {
    in_flight: AtomicUsize,
    ended: AtomicU64,
}

/// The acceptor of the SCIM listener: bounds, then `inner` (TLS), then the guarded stream and
/// the counting service.
#[derive(Clone)]
pub struct GuardedAcceptor<A> {
    inner: A,
    bounds: Arc<ConnectionBounds>,
}

impl<A> GuardedAcceptor<A> {
    pub fn new(inner: A, bounds: Arc<ConnectionBounds>) -> Self {
        Self { inner, bounds }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<A, S> Accept<TcpStream, S> for GuardedAcceptor<A>
where
    A: Accept<TcpStream, S> + Clone + Send + Sync + 'static,
    A::Future: Send + 'static,
    A::Stream: Send + 'static,
    A::Service: Send + 'static,
    S: Send + 'static,
{
    type Stream = GuardedStream<A::Stream>;
    type Service = CountingService<A::Service>;
    type Future = BoxFuture<io::Result<(Self::Stream, Self::Service)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let address = stream.peer_addr().map(|a| a.ip());
        let slot = address.ok().and_then(|a| self.bounds.admit(a));
        let (inner, bounds) = (self.inner.clone(), self.bounds.clone());
        Box::pin(async move {
            let Some(slot) = slot else {
                return Err(io::Error::other("connection bound reached"));
            };
            let (stream, service) = inner.accept(stream, service).await?;
            let activity = Arc::new(Activity::default());
            Ok((
                GuardedStream {
                    inner: stream,
                    activity: activity.clone(),
                    deadline: Box::pin(tokio::time::sleep(bounds.header_read_timeout)),
                    armed_at: 0,
                    idle_timeout: bounds.idle_timeout,
                    _slot: slot,
                },
                CountingService {
                    inner: service,
                    activity,
                },
            ))
        })
    }
}

/// A connection's stream, closed by its next read once it has been idle too long.
pub struct GuardedStream<S> {
    inner: S,
    activity: Arc<Activity>,
    deadline: Pin<Box<tokio::time::Sleep>>,
    /// `activity.ended` when the deadline was last set.
    armed_at: u64,
    idle_timeout: Duration,
    _slot: Slot,
}

impl<S: AsyncRead + Unpin> AsyncRead for GuardedStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Pending => {}
            ready => return ready,
        }
        if this.activity.in_flight.load(Ordering::Acquire) > 0 {
            return Poll::Pending;
        }
        let ended = this.activity.ended.load(Ordering::Acquire);
        if ended != this.armed_at {
            this.armed_at = ended;
            let at = tokio::time::Instant::now() + this.idle_timeout;
            this.deadline.as_mut().reset(at);
        }
        match this.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no request in progress within the time-out",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for GuardedStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The connection's service, counting the requests in progress.
#[derive(Clone)]
pub struct CountingService<S> {
    inner: S,
    activity: Arc<Activity>,
}

/// Counts one request as in progress until it is answered or dropped.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.ended.fetch_add(1, Ordering::Release);
        self.0.in_flight.fetch_sub(1, Ordering::Release);
    }
}

impl<S, R> tower_service::Service<R> for CountingService<S>
where
    S: tower_service::Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        self.activity.in_flight.fetch_add(1, Ordering::Release);
        let guard = InFlight(self.activity.clone());
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await;
            drop(guard);
            response
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_hold_per_address_and_in_all_and_free_on_drop() {
        let limits = Limits {
            max_connections: 3,
            max_connections_per_address: 2,
            ..Limits::default()
        };
        let bounds = ConnectionBounds::new(&limits);
        let (a, b, c): (IpAddr, IpAddr, IpAddr) = (
            "10.0.0.1".parse().unwrap(),
            "10.0.0.2".parse().unwrap(),
            "10.0.0.3".parse().unwrap(),
        );
        let a1 = bounds.admit(a).unwrap();
        let _a2 = bounds.admit(a).unwrap();
        assert!(bounds.admit(a).is_none(), "two per address");
        let _b1 = bounds.admit(b).unwrap();
        assert!(bounds.admit(c).is_none(), "three in all");
        drop(a1);
        assert_eq!(bounds.open(), 2);
        assert!(bounds.admit(c).is_some());
    }
}
