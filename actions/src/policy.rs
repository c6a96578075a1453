//! The outbound-address policy of a bot: which IP addresses its API actions may connect to.
//!
//! Invariants:
//! - link-local (169.254.0.0/16, fe80::/10), cloud-metadata (169.254.169.254, fd00:ec2::254,
//!   100.100.100.200, the name `metadata.google.internal`), unspecified (0.0.0.0/8, `::` —
//!   connecting to them reaches this host), multicast, broadcast and reserved (240/4) addresses
//!   are refused whatever the bot's settings;
//! - loopback (127/8, ::1) and private ranges (10/8, 172.16/12, 192.168/16, 100.64/10,
//!   198.18/15, fc00::/7, fec0::/10) are refused unless the bot sets `allow_private_network`
//!   or lists a CIDR containing the address in `allow_cidrs`;
//! - an IPv6 address that embeds an IPv4 one (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
//!   `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) is judged as that IPv4 address.
//!
//! The check is applied to IP addresses, never to spellings: URL hosts are parsed by the WHATWG
//! rules of the `url` crate (so `2130706433`, `0177.0.0.1` and `0x7f.0.0.1` are 127.0.0.1 before
//! we look), and names are judged by what DNS answers (see `resolve.rs`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use serde::Deserialize;

/// Why an address or host was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("address {addr} is {class}, which actions may never reach")]
    AlwaysRefused { addr: IpAddr, class: AddrClass },
    #[error("address {addr} is {class}; this bot does not allow private network addresses")]
    PrivateRefused { addr: IpAddr, class: AddrClass },
    #[error("host `{0}` is a cloud metadata service, which actions may never reach")]
    MetadataHost(String),
    #[error("every address `{host}` resolves to is refused ({first})")]
    AllAnswersRefused {
        host: String,
        first: Box<PolicyError>,
    },
    #[error("`{0}` resolves to no address")]
    NoAnswer(String),
    #[error("URL scheme `{0}` is not allowed; only http and https")]
    Scheme(String),
    #[error("URL has no host")]
    NoHost,
}

/// What kind of address an IP is, for the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrClass {
    Public,
    Loopback,
    Private,
    LinkLocal,
    Metadata,
    Unspecified,
    Multicast,
    Reserved,
}

impl std::fmt::Display for AddrClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AddrClass::Public => "public",
            AddrClass::Loopback => "loopback",
            AddrClass::Private => "in a private range",
            AddrClass::LinkLocal => "link-local",
            AddrClass::Metadata => "a cloud metadata address",
            AddrClass::Unspecified => "unspecified (this host)",
            AddrClass::Multicast => "multicast",
            AddrClass::Reserved => "reserved",
        })
    }
}

/// A bot's outbound-address policy, as written in its config:
///
/// ```toml
/// [network]
/// allow_private_network = false      # loopback and private ranges
/// allow_cidrs = ["10.20.0.0/16"]     # or just these
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetPolicy {
    /// Allow every loopback and private address.
    #[serde(default)]
    pub allow_private_network: bool,
    /// Allow loopback or private addresses inside these networks only. Never widens the
    /// always-refused classes.
    #[serde(default)]
    pub allow_cidrs: Vec<IpNet>,
}

/// Host names refused before any DNS look-up: metadata services reachable by name.
const METADATA_NAMES: &[&str] = &[
    "metadata.google.internal",
    "metadata",
    "metadata.goog",
    "instance-data",
];

impl NetPolicy {
    /// The strictest policy: public addresses only.
    pub fn public_only() -> NetPolicy {
        NetPolicy::default()
    }

    /// Decides on one IP address, the one about to be connected to.
    pub fn check_ip(&self, addr: IpAddr) -> Result<(), PolicyError> {
        let canonical = canonical(addr);
        match classify(canonical) {
            AddrClass::Public => Ok(()),
            class @ (AddrClass::Loopback | AddrClass::Private) => {
                if self.allow_private_network
                    || self.allow_cidrs.iter().any(|net| net.contains(&canonical))
                {
                    Ok(())
                } else {
                    Err(PolicyError::PrivateRefused { addr, class })
                }
            }
            class => Err(PolicyError::AlwaysRefused { addr, class }),
        }
    }

    /// Decides on a host name before it is resolved (metadata names are refused by name;
    /// everything else is judged by its DNS answers).
    pub fn check_name(&self, host: &str) -> Result<(), PolicyError> {
        let name = host.trim_end_matches('.').to_ascii_lowercase();
        if METADATA_NAMES.contains(&name.as_str()) {
            return Err(PolicyError::MetadataHost(host.to_string()));
        }
        if let Ok(ip) = name.parse::<IpAddr>() {
            return self.check_ip(ip);
        }
        Ok(())
    }

    /// Decides on a URL about to be requested: scheme, metadata names, literal IPs.
    pub fn check_url(&self, url: &url::Url) -> Result<(), PolicyError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(PolicyError::Scheme(url.scheme().to_string()));
        }
        match url.host() {
            None => Err(PolicyError::NoHost),
            Some(url::Host::Ipv4(ip)) => self.check_ip(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => self.check_ip(IpAddr::V6(ip)),
            Some(url::Host::Domain(name)) => self.check_name(name),
        }
    }
}

/// An IPv6 address that carries an IPv4 one becomes that IPv4 address.
pub fn canonical(addr: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = addr else { return addr };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return IpAddr::V4(v4);
    }
    let s = v6.segments();
    let embedded_low =
        || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    // IPv4-compatible ::a.b.c.d (deprecated, but the kernel may still route it); :: and ::1
    // stay IPv6 so they are classed as unspecified and loopback.
    if s[..6] == [0; 6] && !(s[6] == 0 && s[7] <= 1) {
        return IpAddr::V4(embedded_low());
    }
    // NAT64 well-known prefix 64:ff9b::/96.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return IpAddr::V4(embedded_low());
    }
    // 6to4 2002:AABB:CCDD::/48 embeds AA.BB.CC.DD.
    if s[0] == 0x2002 {
        return IpAddr::V4(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    addr
}

/// Classes an address (call [`canonical`] first for IPv6 forms of IPv4).
pub fn classify(addr: IpAddr) -> AddrClass {
    match addr {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn in_v4(addr: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    (u32::from(addr) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

fn classify_v4(a: Ipv4Addr) -> AddrClass {
    if a == Ipv4Addr::new(169, 254, 169, 254) || a == Ipv4Addr::new(100, 100, 100, 200) {
        AddrClass::Metadata
    } else if in_v4(a, [0, 0, 0, 0], 8) {
        AddrClass::Unspecified
    } else if in_v4(a, [169, 254, 0, 0], 16) {
        AddrClass::LinkLocal
    } else if in_v4(a, [127, 0, 0, 0], 8) {
        AddrClass::Loopback
    } else if in_v4(a, [10, 0, 0, 0], 8)
        || in_v4(a, [172, 16, 0, 0], 12)
        || in_v4(a, [192, 168, 0, 0], 16)
        || in_v4(a, [100, 64, 0, 0], 10)
        || in_v4(a, [198, 18, 0, 0], 15)
    {
        AddrClass::Private
    } else if in_v4(a, [224, 0, 0, 0], 4) {
        AddrClass::Multicast
    } else if in_v4(a, [240, 0, 0, 0], 4) {
        // Includes 255.255.255.255 (broadcast).
        AddrClass::Reserved
    } else {
        AddrClass::Public
    }
}

fn classify_v6(a: Ipv6Addr) -> AddrClass {
    let s = a.segments();
    if a == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        AddrClass::Metadata
    } else if a.is_unspecified() {
        AddrClass::Unspecified
    } else if a.is_loopback() {
        AddrClass::Loopback
    } else if s[0] & 0xffc0 == 0xfe80 {
        AddrClass::LinkLocal
    } else if s[0] & 0xfe00 == 0xfc00 || s[0] & 0xffc0 == 0xfec0 {
        // Unique local fc00::/7 and the deprecated site-local fec0::/10.
        AddrClass::Private
    } else if s[0] & 0xff00 == 0xff00 {
        AddrClass::Multicast
    } else {
        AddrClass::Public
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn classes() {
        let cases = [
            ("8.8.8.8", AddrClass::Public),
            ("127.0.0.1", AddrClass::Loopback),
            ("127.255.0.9", AddrClass::Loopback),
            ("::1", AddrClass::Loopback),
            ("10.1.2.3", AddrClass::Private),
            ("172.16.0.1", AddrClass::Private),
            ("172.31.255.255", AddrClass::Private),
            ("172.32.0.1", AddrClass::Public),
            ("192.168.1.1", AddrClass::Private),
            ("100.64.0.1", AddrClass::Private),
            ("fc00::1", AddrClass::Private),
            ("fd12:3456::1", AddrClass::Private),
            ("169.254.1.1", AddrClass::LinkLocal),
            ("fe80::1", AddrClass::LinkLocal),
            ("febf::1", AddrClass::LinkLocal),
            ("169.254.169.254", AddrClass::Metadata),
            ("100.100.100.200", AddrClass::Metadata),
            ("fd00:ec2::254", AddrClass::Metadata),
            ("0.0.0.0", AddrClass::Unspecified),
            ("::", AddrClass::Unspecified),
            ("224.0.0.1", AddrClass::Multicast),
            ("ff02::1", AddrClass::Multicast),
            ("255.255.255.255", AddrClass::Reserved),
            ("2606:4700::1111", AddrClass::Public),
        ];
        for (a, class) in cases {
            assert_eq!(classify(canonical(ip(a))), class, "{a}");
        }
    }

    #[test]
    fn ipv6_forms_of_ipv4_are_judged_as_ipv4() {
        for (a, v4) in [
            ("::ffff:127.0.0.1", "127.0.0.1"),
            ("::ffff:7f00:1", "127.0.0.1"),
            ("::127.0.0.1", "127.0.0.1"),
            ("64:ff9b::a9fe:a9fe", "169.254.169.254"),
            ("2002:7f00:1::", "127.0.0.1"),
            ("::ffff:169.254.169.254", "169.254.169.254"),
        ] {
            assert_eq!(canonical(ip(a)), ip(v4), "{a}");
        }
    }

    #[test]
    fn default_policy_refuses_loopback_private_and_always_refused() {
        let p = NetPolicy::public_only();
        assert!(p.check_ip(ip("93.184.216.34")).is_ok());
        for a in [
            "127.0.0.1",
            "::1",
            "::ffff:127.0.0.1",
            "10.0.0.1",
            "192.168.0.1",
            "fd00::1",
        ] {
            assert!(
                matches!(p.check_ip(ip(a)), Err(PolicyError::PrivateRefused { .. })),
                "{a}"
            );
        }
        for a in [
            "169.254.169.254",
            "fe80::1",
            "0.0.0.0",
            "::",
            "100.100.100.200",
            "fd00:ec2::254",
        ] {
            assert!(
                matches!(p.check_ip(ip(a)), Err(PolicyError::AlwaysRefused { .. })),
                "{a}"
            );
        }
    }

    #[test]
    fn allowances_never_widen_the_always_refused_classes() {
        let p = NetPolicy {
            allow_private_network: true,
            allow_cidrs: vec!["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()],
        };
        assert!(p.check_ip(ip("127.0.0.1")).is_ok());
        assert!(p.check_ip(ip("10.0.0.1")).is_ok());
        for a in [
            "169.254.169.254",
            "169.254.0.1",
            "fe80::1",
            "100.100.100.200",
            "fd00:ec2::254",
            "0.0.0.0",
        ] {
            assert!(
                matches!(p.check_ip(ip(a)), Err(PolicyError::AlwaysRefused { .. })),
                "{a}"
            );
        }
    }

    #[test]
    fn cidr_allowlist_is_exact() {
        let p = NetPolicy {
            allow_private_network: false,
            allow_cidrs: vec!["127.0.0.2/32".parse().unwrap()],
        };
        assert!(p.check_ip(ip("127.0.0.2")).is_ok());
        assert!(p.check_ip(ip("::ffff:127.0.0.2")).is_ok());
        assert!(p.check_ip(ip("127.0.0.1")).is_err());
        assert!(p.check_ip(ip("127.0.0.3")).is_err());
    }

    #[test]
    fn urls_in_every_ipv4_spelling_are_caught() {
        let p = NetPolicy::public_only();
        for u in [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0177.0.0.1/",
            "http://0x7f.0.0.1/",
            "http://0x7f000001/",
            "http://127.1/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::1]:8080/",
            "http://169.254.169.254/latest/meta-data/",
            "http://0251.0376.0251.0376/",
            "http://metadata.google.internal/",
            "http://METADATA.google.internal./",
        ] {
            let url = url::Url::parse(u).unwrap();
            assert!(p.check_url(&url).is_err(), "{u} was allowed");
        }
        assert!(matches!(
            p.check_url(&url::Url::parse("file:///etc/passwd").unwrap()),
            Err(PolicyError::Scheme(_))
        ));
        assert!(p
            .check_url(&url::Url::parse("https://api.example.com/x").unwrap())
            .is_ok());
    }

    #[test]
    fn policy_reads_from_toml() {
        let p: NetPolicy =
            toml::from_str("allow_private_network = true\nallow_cidrs = [\"10.0.0.0/8\"]").unwrap();
        assert!(p.allow_private_network);
        assert_eq!(p.allow_cidrs.len(), 1);
        assert!(toml::from_str::<NetPolicy>("allow_private = true").is_err());
    }
}
