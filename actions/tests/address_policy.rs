//! The outbound-address policy against real sockets. A spy — a TCP listener on 127.0.0.1 that
//! counts accepted connections — proves that a refused call never connected. Each refusal
//! test has a control beside it where the policy allows the address and the spy does see the
//! connection, so the tests can fail.

mod common;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use common::{api, args, serve_api, start_api, Spy};
use natter_actions::{
    ActionClient, CallError, ClientConfig, Lookup, LookupFuture, NetPolicy, PolicyError,
};
use serde_json::json;

fn client(policy: NetPolicy) -> ActionClient {
    ActionClient::new(ClientConfig::with_policy(policy)).unwrap()
}

fn public_only() -> NetPolicy {
    NetPolicy::public_only()
}

fn allow_loopback() -> NetPolicy {
    NetPolicy {
        allow_private_network: true,
        allow_cidrs: vec![],
    }
}

/// Only 127.0.0.2 is allowed: the "allowed host" of the redirect tests. 127.0.0.1 stays refused.
fn allow_only_127_0_0_2() -> NetPolicy {
    NetPolicy {
        allow_private_network: false,
        allow_cidrs: vec!["127.0.0.2/32".parse().unwrap()],
    }
}

/// Spellings of 127.0.0.1 (and names for it) as a URL authority, with `port`.
fn hostile_hosts(port: u16) -> Vec<String> {
    vec![
        format!("127.0.0.1:{port}"),
        format!("2130706433:{port}"),
        format!("0177.0.0.1:{port}"),
        format!("0x7f.0.0.1:{port}"),
        format!("0x7f000001:{port}"),
        format!("127.1:{port}"),
        format!("127.0.0.1.:{port}"),
        format!("017700000001:{port}"),
        format!("[::ffff:127.0.0.1]:{port}"),
        format!("[::ffff:7f00:1]:{port}"),
        format!("localhost:{port}"),
        format!("LocalHost:{port}"),
    ]
}

fn is_policy(e: &CallError) -> bool {
    matches!(e, CallError::Policy(_))
}

#[tokio::test]
async fn hostile_spellings_of_loopback_never_connect() {
    let spy = Spy::bind("127.0.0.1:0").await.unwrap();
    let client = client(public_only());
    for host in hostile_hosts(spy.addr.port()) {
        let action = api(&format!("http://{host}"), "method = \"GET\"\npath = \"/x\"");
        let err = client.call(&action, &args(json!({}))).await.unwrap_err();
        assert!(is_policy(&err), "{host}: {err}");
        assert_eq!(
            err.bot_value(),
            json!({"error": "The action's address is not allowed by this bot's network policy"})
        );
    }
    assert_eq!(spy.accepted(), 0, "a refused address was connected to");
}

#[tokio::test]
async fn ipv6_loopback_never_connects() {
    // Needs IPv6 on the loopback interface; where it is missing there is nothing to reach and
    // the test says so instead of passing silently.
    let Ok(spy) = Spy::bind("[::1]:0").await else {
        eprintln!("SKIPPED: no IPv6 loopback here");
        return;
    };
    let port = spy.addr.port();
    let refused = client(public_only());
    for host in [
        format!("[::1]:{port}"),
        format!("[0:0:0:0:0:0:0:1]:{port}"),
        format!("[::0001]:{port}"),
    ] {
        let action = api(&format!("http://{host}"), "method = \"GET\"");
        let err = refused.call(&action, &args(json!({}))).await.unwrap_err();
        assert!(
            matches!(err, CallError::Policy(PolicyError::PrivateRefused { .. })),
            "{host}: {err}"
        );
    }
    assert_eq!(spy.accepted(), 0);
    // Control.
    let allowed = client(NetPolicy {
        allow_private_network: false,
        allow_cidrs: vec!["::1/128".parse().unwrap()],
    });
    let action = api(
        &format!("http://[::1]:{port}"),
        "method = \"GET\"\ntimeout_ms = 2000",
    );
    let err = allowed.call(&action, &args(json!({}))).await.unwrap_err();
    assert!(!is_policy(&err), "{err}");
    assert_eq!(spy.accepted(), 1);
}

/// Control: the same spellings, allowed, reach the spy — so the test above can fail.
#[tokio::test]
async fn control_allowed_spellings_do_reach_the_spy() {
    let spy = Spy::bind("127.0.0.1:0").await.unwrap();
    let client = client(allow_loopback());
    for host in hostile_hosts(spy.addr.port()) {
        let before = spy.accepted();
        let action = api(
            &format!("http://{host}"),
            "method = \"GET\"\npath = \"/x\"\ntimeout_ms = 2000",
        );
        let err = client.call(&action, &args(json!({}))).await.unwrap_err();
        assert!(!is_policy(&err), "{host}: {err}");
        // The spy closes without answering; wait until its accept is counted.
        let mut tries = 0;
        while spy.accepted() == before && tries < 200 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            tries += 1;
        }
        assert!(spy.accepted() > before, "{host} did not reach the spy");
    }
}

// The two tests below never hand these addresses to a client: if the policy were broken, a
// client would send packets to private or metadata networks, which tests must never do. They
// check the prepared request's URL with the same `check_url` the client applies to every hop
// (the loopback tests above and below prove the client does apply it, with a spy).

#[test]
fn always_refused_addresses_are_refused_even_when_everything_is_allowed() {
    let everything = NetPolicy {
        allow_private_network: true,
        allow_cidrs: vec!["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()],
    };
    for base in [
        "http://169.254.169.254",
        "http://[::ffff:169.254.169.254]",
        "http://0xa9.0xfe.0xa9.0xfe",
        "http://2852039166",
        "http://0251.0376.0251.0376",
        "http://[fd00:ec2::254]",
        "http://100.100.100.200",
        "http://[fe80::1]",
        "http://169.254.1.1",
        "http://metadata.google.internal",
        "http://0.0.0.0",
        "http://0",
        "http://[::]",
    ] {
        let action = api(base, "method = \"GET\"\npath = \"/latest/meta-data/\"");
        let url = action.prepare(&args(json!({}))).unwrap().url;
        match everything.check_url(&url) {
            Err(PolicyError::AlwaysRefused { .. } | PolicyError::MetadataHost(_)) => {}
            other => panic!("{base}: {other:?}"),
        }
    }
}

#[test]
fn private_ranges_are_refused_without_the_setting() {
    for base in [
        "http://10.0.0.1",
        "http://172.16.5.4",
        "http://192.168.1.1",
        "http://100.64.0.1",
        "http://[fd12::1]",
        "http://[::1]",
    ] {
        let action = api(base, "method = \"GET\"");
        let url = action.prepare(&args(json!({}))).unwrap().url;
        assert!(
            matches!(
                public_only().check_url(&url),
                Err(PolicyError::PrivateRefused { .. })
            ),
            "{base}"
        );
        let open = NetPolicy {
            allow_private_network: true,
            allow_cidrs: vec![],
        };
        assert!(open.check_url(&url).is_ok(), "{base}");
    }
}

#[tokio::test]
async fn redirects_to_loopback_from_an_allowed_host_never_connect() {
    let allowed = start_api("127.0.0.2:0").await;
    let spy = Spy::bind("127.0.0.1:0").await.unwrap();
    let client = client(allow_only_127_0_0_2());
    let action = api(
        &allowed.base(),
        "method = \"GET\"\npath = \"/redirect\"\nquery = { to = \"$to\", status = \"$status\" }",
    );
    for host in hostile_hosts(spy.addr.port()) {
        for status in [301, 302, 303, 307, 308] {
            let to = format!("http://{host}/internal");
            let err = client
                .call(&action, &args(json!({ "to": to, "status": status })))
                .await
                .unwrap_err();
            assert!(is_policy(&err), "{status} to {to}: {err}");
        }
    }
    assert!(allowed.hits() > 0, "the allowed host was never asked");
    assert_eq!(spy.accepted(), 0, "a redirect reached a refused address");
    let err = client
        .call(
            &action,
            &args(json!({"to": "file:///etc/passwd", "status": 302})),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, CallError::Policy(PolicyError::Scheme(_))),
        "{err}"
    );
}

#[tokio::test]
async fn redirects_within_policy_are_followed_with_capped_hops() {
    let allowed = start_api("127.0.0.2:0").await;
    let other = start_api("127.0.0.2:0").await;
    let client = client(allow_only_127_0_0_2());
    let action = api(
        &allowed.base(),
        "method = \"POST\"\npath = \"/redirect\"\nquery = { to = \"$to\", status = \"$status\" }\nheaders = { x-api-key = \"secret\" }\nbody = { a = 1 }",
    );
    // 307 keeps method, body and (same origin) headers.
    let to = format!("{}/echo/after", allowed.base());
    let ok = client
        .call(&action, &args(json!({"to": to, "status": 307})))
        .await;
    let ok = ok.unwrap_or_else(|e| panic!("{e}: {}", e.bot_value()));
    assert_eq!(ok.redirects, 1);
    assert_eq!(ok.body["method"], "POST");
    assert_eq!(ok.body["body"], json!({"a": 1}));
    assert_eq!(ok.body["headers"]["x-api-key"], "secret");
    // 303 becomes GET without a body; another origin (port) gets none of the bot's headers.
    let to = format!("{}/echo/other", other.base());
    let ok = client
        .call(&action, &args(json!({"to": to, "status": 303})))
        .await
        .unwrap();
    assert_eq!(ok.body["method"], "GET");
    assert_eq!(ok.body["body"], serde_json::Value::Null);
    assert!(
        ok.body["headers"].get("x-api-key").is_none(),
        "API key leaked across origins"
    );
    assert_eq!(
        ok.final_url.as_str(),
        format!("{}/echo/other", other.base())
    );
    // A loop stops after max_redirects hops.
    let before = allowed.hits();
    let loop_to = format!("{}/loop", allowed.base());
    let err = client
        .call(&action, &args(json!({"to": loop_to, "status": 302})))
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::TooManyRedirects(3)), "{err}");
    assert_eq!(
        allowed.hits() - before,
        4,
        "first request plus 3 followed hops"
    );
}

/// A DNS stand-in: fixed answers per name.
struct FakeDns(HashMap<&'static str, Vec<IpAddr>>);

impl Lookup for FakeDns {
    fn lookup(&self, host: &str) -> LookupFuture {
        let answer = self
            .0
            .get(host)
            .cloned()
            .ok_or_else(|| std::io::Error::other("NXDOMAIN"));
        Box::pin(async move { answer })
    }
}

#[tokio::test]
async fn dns_answers_are_checked_and_filtered() {
    // The allowed server on 127.0.0.2:P and the spy on 127.0.0.1:P share a port, so a name
    // answering both addresses can only be told apart by which address is dialled.
    let (allowed, spy) = loop {
        let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        if let Ok(spy) = Spy::bind(&format!("127.0.0.1:{port}")).await {
            break (serve_api(listener).await, spy);
        }
    };
    let port = allowed.addr.port();
    let dns = Arc::new(FakeDns(HashMap::from([
        ("rebind.test", vec!["127.0.0.1".parse().unwrap()]),
        ("mapped.test", vec!["::ffff:127.0.0.1".parse().unwrap()]),
        (
            "mixed.test",
            vec!["127.0.0.1".parse().unwrap(), "127.0.0.2".parse().unwrap()],
        ),
    ])));
    let client = ActionClient::with_lookup(
        ClientConfig::with_policy(allow_only_127_0_0_2()),
        dns.clone(),
    )
    .unwrap();

    for name in ["rebind.test", "mapped.test"] {
        let action = api(
            &format!("http://{name}:{port}"),
            "method = \"GET\"\npath = \"/echo\"",
        );
        let err = client.call(&action, &args(json!({}))).await.unwrap_err();
        assert!(
            matches!(
                err,
                CallError::Policy(PolicyError::AllAnswersRefused { .. })
            ),
            "{name}: {err}"
        );
    }
    assert_eq!(spy.accepted(), 0);

    // Only the allowed answer is dialled, although the refused one comes first.
    let action = api(
        &format!("http://mixed.test:{port}"),
        "method = \"GET\"\npath = \"/echo/mixed\"",
    );
    let ok = client.call(&action, &args(json!({}))).await.unwrap();
    assert_eq!(ok.body["path"], "/echo/mixed");
    assert_eq!(ok.body["headers"]["host"], format!("mixed.test:{port}"));
    assert_eq!(spy.accepted(), 0, "the refused DNS answer was dialled");

    // Control: allowing loopback, `rebind.test` does reach the spy.
    let open = ActionClient::with_lookup(ClientConfig::with_policy(allow_loopback()), dns).unwrap();
    let action = api(
        &format!("http://rebind.test:{port}"),
        "method = \"GET\"\npath = \"/echo\"\ntimeout_ms = 2000",
    );
    let err = open.call(&action, &args(json!({}))).await.unwrap_err();
    assert!(!is_policy(&err), "{err}");
    assert!(spy.accepted() >= 1, "control: the spy saw nothing");
}
