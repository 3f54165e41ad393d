//! Delivering webhooks: the one part of Dialpool that makes outbound HTTP requests, so
//! the HTTP client lives here and not in the engine, which keeps the outbox (the
//! deliveries, their claiming and their log: `platform::webhook::outbox`). Each round claims the deliveries that are due with `FOR UPDATE
//! SKIP LOCKED` and pushes their next try into the future before sending, so several
//! `dialpool serve` processes never send one delivery twice at once, and a sender that
//! dies mid-round leaves its claims to come back when that lease runs out.
//!
//! Every body is signed: `Dialpool-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
//! "<t>.<body>" keyed with the subscriber's secret>`. The timestamp lets a receiver refuse
//! replays; [`verify`] is the check a receiver makes.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use sha2::Sha256;

use dialpool_engine::platform::webhook::outbox::{self, DueDelivery};
use dialpool_engine::{Error, Result};

/// How the sender behaves; the defaults suit production.
#[derive(Debug, Clone)]
pub struct SenderConfig {
    /// Allow URLs that point at loopback, private or link-local addresses. Off by
    /// default: a tenant administrator must not reach the servers next to Dialpool.
    pub allow_private: bool,
    /// How long a receiver has to answer.
    pub timeout: Duration,
    /// The wait before the second try; each later wait is three times the one before,
    /// up to six hours (1 min: 1, 3, 9, 27, 81 min, 4 h, 6 h — about 12 hours in all).
    pub retry_base: Duration,
    /// Tries before a delivery is given up (`dead`); it can still be sent again by hand.
    pub max_attempts: i32,
    /// How often to look for due deliveries when there were none.
    pub poll: Duration,
    /// Deliveries claimed per round, and sent at most this many at once.
    pub batch: i64,
    pub concurrency: usize,
}

impl Default for SenderConfig {
    fn default() -> Self {
        SenderConfig {
            allow_private: false,
            timeout: Duration::from_secs(10),
            retry_base: Duration::from_secs(60),
            max_attempts: 8,
            poll: Duration::from_secs(1),
            batch: 64,
            concurrency: 8,
        }
    }
}

const MAX_WAIT: Duration = Duration::from_secs(6 * 3600);

/// The wait after try number `attempt` (1-based) failed, before the jitter.
pub fn backoff(base: Duration, attempt: i32) -> Duration {
    let factor = 3u32.saturating_pow(attempt.saturating_sub(1).clamp(0, 20) as u32);
    base.saturating_mul(factor).min(MAX_WAIT)
}

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `Dialpool-Signature` header value for `body` sent at `timestamp` (Unix seconds).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

/// What a receiver checks: the signature matches (in constant time) and its timestamp is
/// within `tolerance_s` of `now` (Unix seconds).
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64, tolerance_s: i64) -> bool {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", hex)) => signatures.push(hex.to_owned()),
            _ => {}
        }
    }
    let Some(t) = timestamp else { return false };
    if (now - t).abs() > tolerance_s {
        return false;
    }
    signatures.iter().any(|hex| {
        let bytes: Option<Vec<u8>> = (0..hex.len())
            .step_by(2)
            .map(|i| hex.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
            .collect();
        bytes.is_some_and(|bytes| mac(secret, t, body).verify_slice(&bytes).is_ok())
    })
}

/// Whether an address is one the public internet routes to.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// Resolves names like the system does, then drops every address that is not public, so
/// a name that points inside (or is re-pointed there later) is refused at connect time.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = found.into_iter().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(
                    format!("{host} resolves only to loopback, private or link-local addresses").into()
                );
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// Sends due deliveries; run [`Sender::run`] in the server, or [`Sender::round`] to send
/// what is due once.
pub struct Sender {
    pool: deadpool_postgres::Pool,
    http: reqwest::Client,
    config: SenderConfig,
}

impl Sender {
    pub fn new(pool: deadpool_postgres::Pool, config: SenderConfig) -> Result<Sender> {
        let mut builder = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            // A redirect could lead anywhere, including inside; receivers answer directly.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("Dialpool-Webhooks/", env!("CARGO_PKG_VERSION")));
        if !config.allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        let http = builder.build().map_err(|e| Error::Worker(format!("webhook HTTP client: {e}")))?;
        Ok(Sender { pool, http, config })
    }

    /// Sends until `shutdown` resolves. Failures of a round are logged and retried.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let sent = match self.round().await {
                Ok(sent) => sent,
                Err(error) => {
                    tracing::warn!(error = %error, "webhook round failed");
                    0
                }
            };
            if sent == 0 {
                tokio::select! {
                    _ = &mut shutdown => return,
                    _ = tokio::time::sleep(self.config.poll) => {}
                }
            }
        }
    }

    /// Claims what is due and sends it; returns how many deliveries were tried.
    pub async fn round(&self) -> Result<usize> {
        let client = self.pool.get().await?;
        // The lease: long enough for every claimed send to time out.
        let lease_s = (self.config.timeout.as_secs_f64() * 2.0 + 60.0).ceil();
        let claimed = outbox::claim_due(&**client, self.config.batch, lease_s).await?;
        drop(client);
        let count = claimed.len();
        futures_util::stream::iter(claimed)
            .for_each_concurrent(self.config.concurrency, |delivery| async move {
                let (status, error, duration) = self.send(&delivery).await;
                if let Err(e) = self.record(&delivery, status, error.as_deref(), duration).await {
                    tracing::warn!(delivery = delivery.id, error = %e, "could not record a webhook try");
                }
            })
            .await;
        Ok(count)
    }

    async fn send(&self, delivery: &DueDelivery) -> (Option<i32>, Option<String>, Duration) {
        let started = Instant::now();
        if !self.config.allow_private
            && let Some(refusal) = literal_address_refusal(&delivery.url)
        {
            return (None, Some(refusal), started.elapsed());
        }
        let timestamp = chrono::Utc::now().timestamp();
        let response = self
            .http
            .post(&delivery.url)
            .header("Content-Type", "application/json")
            .header("Dialpool-Signature", sign(&delivery.secret, timestamp, delivery.body.as_bytes()))
            .header("Dialpool-Event", &delivery.event)
            .header("Dialpool-Event-Id", &delivery.event_id)
            .header("Dialpool-Delivery", delivery.id.to_string())
            .header("Dialpool-Attempt", delivery.attempt.to_string())
            .body(delivery.body.clone())
            .send()
            .await;
        match response {
            Ok(response) => {
                let status = response.status();
                let error = (!status.is_success()).then(|| format!("the receiver answered {status}"));
                (Some(i32::from(status.as_u16())), error, started.elapsed())
            }
            Err(error) => (None, Some(error_chain(&error)), started.elapsed()),
        }
    }

    async fn record(
        &self,
        delivery: &DueDelivery,
        status: Option<i32>,
        error: Option<&str>,
        duration: Duration,
    ) -> Result<()> {
        let wait = backoff(self.config.retry_base, delivery.try_in_round);
        // Up to a tenth more, so receivers coming back from an outage are not hit by
        // every retry at the same second.
        let jitter = wait.mul_f64(f64::from(random_u8()) / 2550.0);
        let mut client = self.pool.get().await?;
        let duration_ms = i32::try_from(duration.as_millis()).unwrap_or(i32::MAX);
        outbox::record_try(
            &mut client,
            delivery,
            &outbox::Try {
                status,
                error,
                duration_ms,
                wait: wait + jitter,
                max_attempts: self.config.max_attempts,
            },
        )
        .await
    }
}

fn random_u8() -> u8 {
    let mut byte = [0u8; 1];
    let _ = getrandom::fill(&mut byte);
    byte[0]
}

/// A URL whose host is a non-public IP literal never reaches the resolver; refuse it here.
fn literal_address_refusal(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    let host = parsed.host_str()?;
    let ip: IpAddr = host.trim_start_matches('[').trim_end_matches(']').parse().ok()?;
    (!is_public(ip)).then(|| format!("{ip} is a loopback, private or link-local address"))
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_with_its_secret_body_and_time() {
        let header = sign("whsec_1", 1_700_000_000, b"{\"a\":1}");
        assert!(verify("whsec_1", &header, b"{\"a\":1}", 1_700_000_100, 300));
        assert!(!verify("whsec_2", &header, b"{\"a\":1}", 1_700_000_100, 300));
        assert!(!verify("whsec_1", &header, b"{\"a\":2}", 1_700_000_100, 300));
        assert!(!verify("whsec_1", &header, b"{\"a\":1}", 1_700_000_400, 300));
        assert!(!verify("whsec_1", "t=1700000000,v1=zz", b"{\"a\":1}", 1_700_000_000, 300));
    }

    #[test]
    fn retries_wait_three_times_longer_each_time_up_to_six_hours() {
        let base = Duration::from_secs(60);
        let waits: Vec<u64> = (1..=8).map(|n| backoff(base, n).as_secs() / 60).collect();
        assert_eq!(waits, [1, 3, 9, 27, 81, 243, 360, 360]);
    }

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
        assert!(literal_address_refusal("http://169.254.169.254/latest/meta-data").is_some());
        assert!(literal_address_refusal("http://[::1]:8080/").is_some());
        assert!(literal_address_refusal("https://hooks.example.com/").is_none());
    }
}
