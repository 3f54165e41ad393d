//! Failed logins earn an address a growing ban (like SFTPGo's defender): after
//! [`FREE_FAILURES`] failures in a row, every login from it is refused for a minute, then
//! twice as long after each further failure, up to a day. A success clears the count.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures an address may make before it is banned.
pub const FREE_FAILURES: u32 = 5;
const FIRST_BAN: Duration = Duration::from_secs(60);
const LONGEST_BAN: Duration = Duration::from_secs(86_400);

#[derive(Debug, Default)]
pub struct Throttle {
    addresses: Mutex<HashMap<IpAddr, Record>>,
}

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    banned_until: Option<Instant>,
}

impl Throttle {
    /// Whether logins from `address` are refused now.
    pub fn banned(&self, address: IpAddr) -> bool {
        let addresses = self.addresses.lock().unwrap_or_else(|e| e.into_inner());
        addresses.get(&address).and_then(|r| r.banned_until).is_some_and(|until| until > Instant::now())
    }

    pub fn failed(&self, address: IpAddr) {
        let mut addresses = self.addresses.lock().unwrap_or_else(|e| e.into_inner());
        let record = addresses.entry(address).or_insert(Record { failures: 0, banned_until: None });
        record.failures += 1;
        if record.failures >= FREE_FAILURES {
            let doublings = (record.failures - FREE_FAILURES).min(16);
            let ban = (FIRST_BAN * 2u32.pow(doublings)).min(LONGEST_BAN);
            record.banned_until = Some(Instant::now() + ban);
            tracing::warn!(%address, failures = record.failures, ban_s = ban.as_secs(), "SFTP logins from an address are refused");
        }
    }

    pub fn succeeded(&self, address: IpAddr) {
        self.addresses.lock().unwrap_or_else(|e| e.into_inner()).remove(&address);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_banned_after_the_free_failures_and_a_success_clears_it() {
        let throttle = Throttle::default();
        let address: IpAddr = "203.0.113.9".parse().unwrap();
        for _ in 0..FREE_FAILURES - 1 {
            throttle.failed(address);
        }
        assert!(!throttle.banned(address));
        throttle.failed(address);
        assert!(throttle.banned(address));
        assert!(!throttle.banned("203.0.113.10".parse().unwrap()), "only that address");
        throttle.succeeded(address);
        assert!(!throttle.banned(address));
    }
}
