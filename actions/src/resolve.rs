//! The DNS resolver handed to reqwest: it looks names up and keeps only the answers the bot's
//! [`NetPolicy`] allows, so the connector can only ever dial an allowed address.
//!
//! Why a resolver and not a check before the request: the address checked must be the address
//! connected to. reqwest connects to exactly the addresses this resolver returns (literal-IP
//! hosts skip it; `client.rs` checks those itself, and proxies are disabled), so there is no
//! window between check and connect for a second DNS answer (rebinding) to slip through.
//! When some answers are refused and others allowed, only the allowed ones are returned.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::policy::{NetPolicy, PolicyError};

/// A future of a DNS answer.
pub type LookupFuture = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;

/// How names are looked up. [`SystemLookup`] asks the system resolver; tests and embedders may
/// supply their own (a fixed table, a DNS-over-HTTPS client…). The policy is applied to
/// whatever it answers.
pub trait Lookup: Send + Sync + 'static {
    fn lookup(&self, host: &str) -> LookupFuture;
}

/// The system resolver (`getaddrinfo` through tokio).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(&self, host: &str) -> LookupFuture {
        let host = host.to_string();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// The addresses `host` resolves to that `policy` allows (all of them checked, the refused
/// ones dropped), or why there are none: the check API actions make, for other clients that
/// must obey a bot's `[network]` policy (the Python egress proxy). Connect only to what it
/// returns, never to a second look-up of the name.
pub async fn allowed_addresses(
    policy: &NetPolicy,
    lookup: &dyn Lookup,
    host: &str,
) -> Result<Vec<IpAddr>, ResolveError> {
    PolicyResolver::allowed(policy, lookup, host).await
}

/// reqwest's resolver: look up, then filter by policy.
pub(crate) struct PolicyResolver {
    pub(crate) policy: Arc<NetPolicy>,
    pub(crate) lookup: Arc<dyn Lookup>,
}

impl PolicyResolver {
    /// The allowed answers for `host`, or why there are none.
    pub(crate) async fn allowed(
        policy: &NetPolicy,
        lookup: &dyn Lookup,
        host: &str,
    ) -> Result<Vec<IpAddr>, ResolveError> {
        policy.check_name(host)?;
        let answers = lookup
            .lookup(host)
            .await
            .map_err(|e| ResolveError::Lookup(host.to_string(), e))?;
        let mut allowed = Vec::with_capacity(answers.len());
        let mut first_refusal = None;
        for ip in answers {
            match policy.check_ip(ip) {
                Ok(()) => allowed.push(ip),
                Err(e) => {
                    first_refusal.get_or_insert(e);
                }
            }
        }
        match (allowed.is_empty(), first_refusal) {
            (false, _) => Ok(allowed),
            (true, Some(first)) => Err(PolicyError::AllAnswersRefused {
                host: host.to_string(),
                first: Box::new(first),
            }
            .into()),
            (true, None) => Err(PolicyError::NoAnswer(host.to_string()).into()),
        }
    }
}

/// A failed resolution: a policy refusal (found again by `client.rs` in reqwest's error chain)
/// or a look-up failure.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("DNS look-up of `{0}` failed: {1}")]
    Lookup(String, #[source] io::Error),
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let lookup = self.lookup.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let ips = PolicyResolver::allowed(&policy, &*lookup, &host).await?;
            // reqwest replaces port 0 with the URL's port.
            let addrs: Addrs = Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Table(HashMap<&'static str, Vec<IpAddr>>);
    impl Lookup for Table {
        fn lookup(&self, host: &str) -> LookupFuture {
            let r = self
                .0
                .get(host)
                .cloned()
                .ok_or_else(|| io::Error::other("NXDOMAIN"));
            Box::pin(async move { r })
        }
    }

    fn table() -> Table {
        Table(HashMap::from([
            ("rebind.test", vec!["127.0.0.1".parse().unwrap()]),
            (
                "mixed.test",
                vec![
                    "127.0.0.1".parse().unwrap(),
                    "93.184.216.34".parse().unwrap(),
                ],
            ),
            ("meta.test", vec!["169.254.169.254".parse().unwrap()]),
            ("empty.test", vec![]),
        ]))
    }

    #[tokio::test]
    async fn refused_answers_are_filtered_out() {
        let p = NetPolicy::public_only();
        let t = table();
        let r = PolicyResolver::allowed(&p, &t, "rebind.test")
            .await
            .unwrap_err();
        assert!(
            matches!(
                r,
                ResolveError::Policy(PolicyError::AllAnswersRefused { .. })
            ),
            "{r}"
        );
        let ok = PolicyResolver::allowed(&p, &t, "mixed.test").await.unwrap();
        assert_eq!(ok, vec!["93.184.216.34".parse::<IpAddr>().unwrap()]);
        let p_all = NetPolicy {
            allow_private_network: true,
            allow_cidrs: vec![],
        };
        assert!(PolicyResolver::allowed(&p_all, &t, "meta.test")
            .await
            .is_err());
        assert!(matches!(
            PolicyResolver::allowed(&p, &t, "empty.test").await,
            Err(ResolveError::Policy(PolicyError::NoAnswer(_)))
        ));
        assert!(matches!(
            PolicyResolver::allowed(&p, &t, "nx.test").await,
            Err(ResolveError::Lookup(..))
        ));
        assert!(matches!(
            PolicyResolver::allowed(&p, &t, "metadata.google.internal").await,
            Err(ResolveError::Policy(PolicyError::MetadataHost(_)))
        ));
    }
}
