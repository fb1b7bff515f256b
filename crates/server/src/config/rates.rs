//! Rate limits: attempts per minute under each limit (0 = unlimited); the defaults are the
//! domain's `Quotas`.

use domain::limits::Quotas;
use serde::{Deserialize, Serialize};

/// The rate settings as read: `rate_<limit>` for each of the domain's limits.
#[derive(Debug, Deserialize, Serialize)]
#[serde(default)]
pub(super) struct Rates {
    rate_comments_per_user: u32,
    rate_comments_per_device: u32,
    rate_logins_per_ip: u32,
    rate_logins_per_account: u32,
    rate_registrations_per_ip: u32,
}

impl Default for Rates {
    fn default() -> Self {
        let quotas = Quotas::default();
        Self {
            rate_comments_per_user: quotas.comments_per_user,
            rate_comments_per_device: quotas.comments_per_device,
            rate_logins_per_ip: quotas.logins_per_ip,
            rate_logins_per_account: quotas.logins_per_account,
            rate_registrations_per_ip: quotas.registrations_per_ip,
        }
    }
}

impl Rates {
    pub(super) fn quotas(&self) -> Quotas {
        Quotas {
            comments_per_user: self.rate_comments_per_user,
            comments_per_device: self.rate_comments_per_device,
            logins_per_ip: self.rate_logins_per_ip,
            logins_per_account: self.rate_logins_per_account,
            registrations_per_ip: self.rate_registrations_per_ip,
        }
    }
}
