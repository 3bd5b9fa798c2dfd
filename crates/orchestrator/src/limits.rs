//! Request-rate limits of the REST API: a token bucket per client address, so that one client
//! (a runaway script, a scanner) cannot starve the Orchestrator for everyone else. A request over
//! the limit gets 429 with `Retry-After`.

use crate::ApiError;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use std::collections::HashMap;
use crate::listen::Peer;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

/// Requests per second each client address may make on average, and in a burst.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: f64,
    /// Requests allowed at once after a quiet period.
    pub burst: f64,
}

impl Default for RateLimit {
    /// Generous for people, dashboards, the CLI and a few hundred Hosts behind one address.
    fn default() -> Self {
        RateLimit { per_second: 200.0, burst: 400.0 }
    }
}

/// Token buckets by client address.
pub(crate) struct Limiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

/// Addresses idle this long are forgotten, so the table stays small.
const FORGET_AFTER_S: f64 = 60.0;

impl Limiter {
    pub(crate) fn new(limit: RateLimit) -> Limiter {
        Limiter { limit, buckets: Mutex::new(HashMap::new()) }
    }

    /// Take one token for `ip`; `Err(seconds to wait)` when there is none.
    fn take(&self, ip: IpAddr, now: Instant) -> Result<(), f64> {
        let mut buckets = self.buckets.lock();
        if buckets.len() > 10_000 {
            buckets.retain(|_, (_, at)| now.duration_since(*at).as_secs_f64() < FORGET_AFTER_S);
        }
        let (tokens, at) = buckets.entry(ip).or_insert((self.limit.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.limit.per_second).min(self.limit.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err((1.0 - *tokens) / self.limit.per_second)
        }
    }
}

pub(crate) async fn limit(State(limiter): State<Arc<Limiter>>, ConnectInfo(Peer(peer)): ConnectInfo<Peer>, req: Request, next: Next) -> Response {
    match limiter.take(peer.ip(), Instant::now()) {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            let mut r = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", format!("too many requests from {}; retry in {wait:.2} s", peer.ip())).into_response();
            let secs = wait.ceil().max(1.0) as u64;
            r.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
            r
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_is_allowed_then_the_rate() {
        let l = Limiter::new(RateLimit { per_second: 10.0, burst: 3.0 });
        let (ip, other, t0): (IpAddr, IpAddr, _) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap(), Instant::now());
        assert!((0..3).all(|_| l.take(ip, t0).is_ok()));
        assert!(l.take(ip, t0).is_err(), "the burst is used up");
        assert!(l.take(other, t0).is_ok(), "another client has its own bucket");
        assert!(l.take(ip, t0 + Duration::from_millis(100)).is_ok(), "one token back after 1/rate");
        assert!(l.take(ip, t0 + Duration::from_millis(100)).is_err());
    }
}
