//! The seed's "fetch order with tracking from multiple APIs" example, verbatim but for the
//! URLs, calling two stand-in APIs on 127.0.0.1 with `requests` from inside the sandbox
//! (through its egress proxy, the host allowing them).
mod common;
use common::*;
use natter_python_runtime::*;
use serde_json::json;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Answers GET /orders?id=42&email=... and GET /shipments?tracking_number=TN1.
async fn apis() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut n = 0;
                while !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf[n..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => n += k,
                    }
                }
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                let target = head.split(' ').nth(1).unwrap_or("").to_string();
                let auth = head
                    .lines()
                    .any(|l| l.eq_ignore_ascii_case("authorization: Bearer ERP_KEY"));
                let (status, body) = if target == "/orders?id=42&email=a%40b.example" && auth {
                    (
                        "200 OK",
                        json!({"status": "shipped", "trackingNumber": "TN1", "estimatedDelivery": "2026-01-05"}),
                    )
                } else if target.starts_with("/orders") {
                    ("404 Not Found", json!({}))
                } else if target == "/shipments?tracking_number=TN1" {
                    (
                        "200 OK",
                        json!({"events": [{"at": "2026-01-02", "what": "picked up"}]}),
                    )
                } else {
                    ("404 Not Found", json!({}))
                };
                let body = body.to_string();
                let resp = format!("HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_with_tracking_from_two_apis() {
    let base = apis().await;
    let bot = Bot::new();
    let code = r#"
import requests

def execute_action(context):
    order_id = context["args"]["orderId"]
    email = context["args"]["email"]

    # Fetch order from ERP
    order_resp = requests.get(
        "BASE/orders",
        params={"id": order_id, "email": email},
        headers={"Authorization": "Bearer ERP_KEY"},
        timeout=30,
    )
    if order_resp.status_code != 200:
        return {"error": "Order not found. Please check the order ID."}
    order = order_resp.json()

    # Fetch tracking from courier
    tracking = requests.get(
        "BASE/shipments",
        params={"tracking_number": order["trackingNumber"]},
        timeout=30,
    ).json()

    return {
        "orderId": order_id,
        "status": order["status"],
        "trackingNumber": order["trackingNumber"],
        "trackingEvents": tracking.get("events", []),
        "estimatedDelivery": order.get("estimatedDelivery"),
    }
"#
    .replace("BASE", &base);
    let s = bot.script("getOrderDetails.py", &code);
    // The sandbox has no network: the host lets the code reach the stand-in APIs.
    let hostport = base.trim_start_matches("http://").to_string();
    let rt = runtime_with(Arc::new(InMemoryHost::new().with_egress(&[&hostport]))).await;
    let out = rt
        .run(action(
            &bot,
            &s,
            context(json!({"orderId": "42", "email": "a@b.example"}), None),
        ))
        .await;
    assert_eq!(out.status, RunStatus::Ok, "{out:#?}");
    assert_eq!(
        out.value,
        json!({"orderId": "42", "status": "shipped", "trackingNumber": "TN1",
               "trackingEvents": [{"at": "2026-01-02", "what": "picked up"}], "estimatedDelivery": "2026-01-05"})
    );
    let out = rt
        .run(action(
            &bot,
            &s,
            context(json!({"orderId": "43", "email": "a@b.example"}), None),
        ))
        .await;
    assert_eq!(
        out.value,
        json!({"error": "Order not found. Please check the order ID."})
    );
}
