//! A bot's `[python] egress` allow-list: the hosts its Python actions and event handlers may
//! connect to. The sandbox has no network of its own; every connection goes through the
//! runtime's egress proxy, which asks the server (`python_host`) whether `host:port` is on
//! this list, and only then resolves the name and checks each address against the bot's
//! `[network]` policy, as API actions do.
//!
//! Entries (matched case-insensitively, a trailing dot ignored):
//! - `api.example.com` or `api.example.com:8443`: that name exactly;
//! - `*.example.com[:port]`: any name ending in `.example.com` (not `example.com` itself);
//! - `203.0.113.7[:port]` and `[2001:db8::1][:port]`: that address, when the code connects
//!   to it by address (a name is never matched by what it resolves to).
//!
//! An entry without a port allows 80 and 443 only. Invariant: an entry that does not parse is
//! a load error naming the key; nothing is silently widened or dropped.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Ports allowed by an entry that names none.
pub const DEFAULT_PORTS: [u16; 2] = [80, 443];

/// Why an allow-list entry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressError {
    #[error("an empty entry")]
    Empty,
    #[error("`{0}` is a URL; write the host (and port), e.g. `api.example.com` or `api.example.com:8443`")]
    Url(String),
    #[error("`{0}`: the port must be a number from 1 to 65535")]
    Port(String),
    #[error("`{0}`: write IPv6 addresses in brackets, e.g. `[2001:db8::1]:443`")]
    BareIpv6(String),
    #[error("`{0}`: `*` may only start an entry, as in `*.example.com`")]
    Wildcard(String),
    #[error("`{0}` is not a host name, an IPv4 address or a bracketed IPv6 address")]
    Host(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// A name, lower case, without a trailing dot.
    Name(String),
    /// `*.example.com`: the suffix with its leading dot (`.example.com`).
    Suffix(String),
    Ip(IpAddr),
}

/// One parsed entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressEntry {
    host: HostPattern,
    /// `None`: [`DEFAULT_PORTS`].
    port: Option<u16>,
}

/// The parsed allow-list; empty (the default) allows nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressList {
    entries: Vec<EgressEntry>,
}

impl EgressList {
    pub fn new(entries: Vec<EgressEntry>) -> EgressList {
        EgressList { entries }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// May the code connect to `host:port`? `host` as the code named it: a name, an IPv4
    /// address, or an IPv6 address with or without brackets.
    pub fn allows(&self, host: &str, port: u16) -> bool {
        let Some(target) = target(host) else {
            return false;
        };
        self.entries.iter().any(|e| {
            let port_ok = match e.port {
                Some(p) => p == port,
                None => DEFAULT_PORTS.contains(&port),
            };
            port_ok
                && match (&e.host, &target) {
                    (HostPattern::Name(n), HostPattern::Name(t)) => n == t,
                    (HostPattern::Suffix(s), HostPattern::Name(t)) => t.ends_with(s.as_str()),
                    (HostPattern::Ip(a), HostPattern::Ip(b)) => canonical(*a) == canonical(*b),
                    _ => false,
                }
        })
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    natter_actions::policy::canonical(ip)
}

/// What the code asked to connect to, in the form entries are compared with.
fn target(host: &str) -> Option<HostPattern> {
    let h = host.trim();
    let h = h
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(h);
    if let Ok(ip) = h.parse::<IpAddr>() {
        return Some(HostPattern::Ip(ip));
    }
    let name = normal_name(h)?;
    Some(HostPattern::Name(name))
}

/// A DNS name in lower case without its trailing dot, if `s` is one.
fn normal_name(s: &str) -> Option<String> {
    let n = s.strip_suffix('.').unwrap_or(s).to_ascii_lowercase();
    let ok = !n.is_empty()
        && n.len() <= 253
        && n.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    ok.then_some(n)
}

/// Parses one entry of `[python] egress`.
pub fn parse_entry(raw: &str) -> Result<EgressEntry, EgressError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(EgressError::Empty);
    }
    if s.contains("://") || s.contains('/') {
        return Err(EgressError::Url(raw.to_string()));
    }
    let port_of = |p: &str| match p.parse::<u16>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(EgressError::Port(raw.to_string())),
    };
    // `[v6]` or `[v6]:port`.
    if let Some(rest) = s.strip_prefix('[') {
        let (addr, after) = rest
            .split_once(']')
            .ok_or_else(|| EgressError::Host(raw.to_string()))?;
        let ip: Ipv6Addr = addr
            .parse()
            .map_err(|_| EgressError::Host(raw.to_string()))?;
        let port = match after {
            "" => None,
            p => Some(port_of(
                p.strip_prefix(':')
                    .ok_or_else(|| EgressError::Host(raw.to_string()))?,
            )?),
        };
        return Ok(EgressEntry {
            host: HostPattern::Ip(IpAddr::V6(ip)),
            port,
        });
    }
    if s.matches(':').count() > 1 {
        return Err(EgressError::BareIpv6(raw.to_string()));
    }
    let (host, port) = match s.split_once(':') {
        Some((h, p)) => (h, Some(port_of(p)?)),
        None => (s, None),
    };
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(EgressEntry {
            host: HostPattern::Ip(IpAddr::V4(ip)),
            port,
        });
    }
    let (wild, name) = match host.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, host),
    };
    if name.contains('*') {
        return Err(EgressError::Wildcard(raw.to_string()));
    }
    let name = normal_name(name).ok_or_else(|| EgressError::Host(raw.to_string()))?;
    // A name made of digits and dots only would be an IPv4 spelling (`127.1`, `2130706433`):
    // refused rather than matched as a name the code could never be stopped from reaching.
    if name.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(EgressError::Host(raw.to_string()));
    }
    Ok(EgressEntry {
        host: if wild {
            HostPattern::Suffix(format!(".{name}"))
        } else {
            HostPattern::Name(name)
        },
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> EgressList {
        EgressList::new(entries.iter().map(|e| parse_entry(e).unwrap()).collect())
    }

    #[test]
    fn entries_parse_or_say_what_to_write() {
        for ok in [
            "api.example.com",
            "API.Example.com.",
            "api.example.com:8443",
            "*.example.com",
            "*.example.com:8080",
            "203.0.113.7",
            "127.0.0.1:9000",
            "[2001:db8::1]",
            "[::1]:8080",
            "my_host.internal",
        ] {
            assert!(parse_entry(ok).is_ok(), "{ok}");
        }
        for (bad, want) in [
            ("", EgressError::Empty),
            ("  ", EgressError::Empty),
            (
                "https://api.example.com",
                EgressError::Url("https://api.example.com".into()),
            ),
            (
                "api.example.com/v1",
                EgressError::Url("api.example.com/v1".into()),
            ),
            (
                "api.example.com:0",
                EgressError::Port("api.example.com:0".into()),
            ),
            (
                "api.example.com:70000",
                EgressError::Port("api.example.com:70000".into()),
            ),
            (
                "api.example.com:",
                EgressError::Port("api.example.com:".into()),
            ),
            (
                "api.example.com:http",
                EgressError::Port("api.example.com:http".into()),
            ),
            ("2001:db8::1", EgressError::BareIpv6("2001:db8::1".into())),
            ("api.*.com", EgressError::Wildcard("api.*.com".into())),
            ("*", EgressError::Wildcard("*".into())),
            (
                "**.example.com",
                EgressError::Wildcard("**.example.com".into()),
            ),
            ("exa mple.com", EgressError::Host("exa mple.com".into())),
            (
                "-bad.example.com",
                EgressError::Host("-bad.example.com".into()),
            ),
            ("a..b", EgressError::Host("a..b".into())),
            ("[::1", EgressError::Host("[::1".into())),
            ("[::1]8080", EgressError::Host("[::1]8080".into())),
            ("[127.0.0.1]", EgressError::Host("[127.0.0.1]".into())),
            ("2130706433", EgressError::Host("2130706433".into())),
            ("127.1", EgressError::Host("127.1".into())),
        ] {
            assert_eq!(parse_entry(bad), Err(want), "{bad:?}");
        }
    }

    #[test]
    fn names_match_exactly_and_wildcards_only_below_their_suffix() {
        let l = list(&["api.example.com", "*.corp.example"]);
        assert!(l.allows("api.example.com", 443));
        assert!(l.allows("API.EXAMPLE.COM.", 80));
        assert!(
            !l.allows("api.example.com", 8443),
            "no port: 80 and 443 only"
        );
        assert!(!l.allows("example.com", 443));
        assert!(!l.allows("xapi.example.com", 443));
        assert!(!l.allows("api.example.com.evil.test", 443));
        assert!(l.allows("a.corp.example", 443));
        assert!(l.allows("a.b.corp.example", 443));
        assert!(
            !l.allows("corp.example", 443),
            "the wildcard is below the suffix"
        );
        assert!(!l.allows("evilcorp.example", 443));
    }

    #[test]
    fn ports_and_addresses() {
        let l = list(&[
            "api.example.com:8443",
            "127.0.0.1:9000",
            "[::1]",
            "203.0.113.7",
        ]);
        assert!(l.allows("api.example.com", 8443));
        assert!(!l.allows("api.example.com", 443));
        assert!(l.allows("127.0.0.1", 9000));
        assert!(!l.allows("127.0.0.1", 9001));
        assert!(!l.allows("127.0.0.2", 9000));
        assert!(
            !l.allows("localhost", 9000),
            "a name is not matched by its address"
        );
        assert!(l.allows("[::1]", 443));
        assert!(l.allows("::1", 80));
        assert!(!l.allows("[::1]", 9000));
        assert!(l.allows("203.0.113.7", 443));
        assert!(
            l.allows("::ffff:203.0.113.7", 443),
            "IPv4-mapped is the same address"
        );
        assert!(!l.allows("not a host", 443));
        assert!(!l.allows("", 443));
    }

    #[test]
    fn an_empty_list_allows_nothing() {
        let l = EgressList::default();
        assert!(l.is_empty());
        assert!(!l.allows("api.example.com", 443));
        assert!(!l.allows("127.0.0.1", 80));
    }
}
