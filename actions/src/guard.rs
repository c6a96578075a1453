//! The outbound-address policy for HTTP clients other than API actions (CRM webhooks, LLM
//! endpoints): one place that makes a `reqwest` client obey a [`NetPolicy`].
//!
//! [`guarded_builder`] gives a builder whose names resolve through the policy (so only allowed
//! addresses are ever dialled, DNS rebinding included) and which never uses a proxy; callers add
//! their own timeouts. reqwest skips the resolver for literal-IP hosts, so each request's URL
//! must also pass [`NetPolicy::check_url`] ([`Guard::check`]) before it is sent.

use std::sync::Arc;

use crate::policy::{NetPolicy, PolicyError};
use crate::resolve::{Lookup, PolicyResolver, ResolveError, SystemLookup};

/// A `reqwest` builder bound to `policy` (names resolved by `lookup`, filtered by the policy).
pub fn guarded_builder(policy: Arc<NetPolicy>, lookup: Arc<dyn Lookup>) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        // A proxy would connect on our behalf to an address we never checked.
        .no_proxy()
        .dns_resolver(Arc::new(PolicyResolver { policy, lookup }))
}

/// A policy with the system resolver: what the server hands to the CRM and LLM clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guard {
    pub policy: Arc<NetPolicy>,
}

impl Guard {
    pub fn new(policy: NetPolicy) -> Guard {
        Guard {
            policy: Arc::new(policy),
        }
    }

    /// A builder whose connections obey this policy.
    pub fn builder(&self) -> reqwest::ClientBuilder {
        guarded_builder(self.policy.clone(), Arc::new(SystemLookup))
    }

    /// Scheme, metadata names and literal IPs of a URL about to be requested.
    pub fn check(&self, url: &url::Url) -> Result<(), PolicyError> {
        self.policy.check_url(url)
    }
}

/// A refusal by the resolver comes back wrapped in reqwest's and hyper's errors: find it, so it
/// is reported as a refusal and not as a network failure.
pub fn policy_refusal(e: &reqwest::Error) -> Option<PolicyError> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(ResolveError::Policy(p)) = s.downcast_ref::<ResolveError>() {
            return Some(p.clone());
        }
        source = s.source();
    }
    None
}
