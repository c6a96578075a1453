//! Standard Webhooks vectors: the signatures are the ones published by the specification's
//! reference libraries (Svix's documented example and libraries/rust `test_sign`), not values
//! computed by this crate.

use std::time::Duration;

use natter_crm::sign::{
    signature_header, verify, SignatureHeaders, SigningSecret, VerifyError, DEFAULT_TOLERANCE,
};

const SVIX_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SVIX_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const SVIX_TS: i64 = 1_614_265_330;
const SVIX_BODY: &[u8] = br#"{"test": 2432232314}"#;
const SVIX_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

#[test]
fn signs_the_published_vectors() {
    let s = SigningSecret::parse(SVIX_SECRET).unwrap();
    assert_eq!(s.sign(SVIX_ID, SVIX_TS, SVIX_BODY), SVIX_SIG);
    let r = SigningSecret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
    assert_eq!(
        r.sign(
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1_649_367_553,
            br#"{"email":"test@example.com","username":"test_user"}"#
        ),
        "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
    );
}

fn h<'a>(id: &'a str, ts: &'a str, sig: &'a str) -> SignatureHeaders<'a> {
    SignatureHeaders {
        id,
        timestamp: ts,
        signature: sig,
    }
}

#[test]
fn verifies_the_published_vector_within_tolerance_only() {
    let s = [SigningSecret::parse(SVIX_SECRET).unwrap()];
    let ts = SVIX_TS.to_string();
    assert_eq!(
        verify(
            &s,
            &h(SVIX_ID, &ts, SVIX_SIG),
            SVIX_BODY,
            SVIX_TS,
            DEFAULT_TOLERANCE
        ),
        Ok(())
    );
    assert_eq!(
        verify(
            &s,
            &h(SVIX_ID, &ts, SVIX_SIG),
            SVIX_BODY,
            SVIX_TS + 300,
            DEFAULT_TOLERANCE
        ),
        Ok(())
    );
    assert_eq!(
        verify(
            &s,
            &h(SVIX_ID, &ts, SVIX_SIG),
            SVIX_BODY,
            SVIX_TS + 301,
            DEFAULT_TOLERANCE
        ),
        Err(VerifyError::TooOld(301))
    );
    assert_eq!(
        verify(
            &s,
            &h(SVIX_ID, &ts, SVIX_SIG),
            SVIX_BODY,
            SVIX_TS - 301,
            DEFAULT_TOLERANCE
        ),
        Err(VerifyError::TooNew(301))
    );
    assert_eq!(
        verify(
            &s,
            &h(SVIX_ID, &ts, SVIX_SIG),
            SVIX_BODY,
            SVIX_TS + 50,
            Duration::from_secs(10)
        ),
        Err(VerifyError::TooOld(50))
    );
}

#[test]
fn refuses_any_change() {
    let s = [SigningSecret::parse(SVIX_SECRET).unwrap()];
    let ts = SVIX_TS.to_string();
    let v = |id: &str, ts: &str, sig: &str, body: &[u8]| {
        verify(&s, &h(id, ts, sig), body, SVIX_TS, DEFAULT_TOLERANCE)
    };
    assert_eq!(
        v(SVIX_ID, &ts, SVIX_SIG, br#"{"test": 2432232315}"#),
        Err(VerifyError::NoMatch)
    );
    assert_eq!(
        v("msg_other", &ts, SVIX_SIG, SVIX_BODY),
        Err(VerifyError::NoMatch)
    );
    assert_eq!(
        v(SVIX_ID, "1614265331", SVIX_SIG, SVIX_BODY),
        Err(VerifyError::NoMatch)
    );
    // Another version with the same bytes is not a v1 signature.
    assert_eq!(
        v(SVIX_ID, &ts, &SVIX_SIG.replace("v1,", "v2,"), SVIX_BODY),
        Err(VerifyError::NoMatch)
    );
    assert_eq!(
        v(SVIX_ID, &ts, "v1,not-base64!", SVIX_BODY),
        Err(VerifyError::NoMatch)
    );
    assert_eq!(v(SVIX_ID, &ts, "", SVIX_BODY), Err(VerifyError::NoMatch));
    assert_eq!(
        v(SVIX_ID, "yesterday", SVIX_SIG, SVIX_BODY),
        Err(VerifyError::BadHeader("webhook-timestamp"))
    );
    let other = [SigningSecret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap()];
    assert_eq!(
        verify(
            &other,
            &h(SVIX_ID, &ts, SVIX_SIG),
            SVIX_BODY,
            SVIX_TS,
            DEFAULT_TOLERANCE
        ),
        Err(VerifyError::NoMatch)
    );
}

#[test]
fn several_signatures_and_rotation() {
    let old = SigningSecret::parse(SVIX_SECRET).unwrap();
    let new = SigningSecret::generate();
    let ts = SVIX_TS.to_string();
    // A header listing stale signatures around the right one passes (the reference libraries' case).
    let multi = format!("v1,tFtCZ5RDCPxzWQRWXWPgrCgE2frDBe9gjpbWQxnVfsQ= {SVIX_SIG} v1,Mm7xgUVICxZfQ3bgf0h0Dof65L/IFx+PnZvnDWPCX6Q=");
    assert_eq!(
        verify(
            std::slice::from_ref(&old),
            &h(SVIX_ID, &ts, &multi),
            SVIX_BODY,
            SVIX_TS,
            DEFAULT_TOLERANCE
        ),
        Ok(())
    );
    // Signing with both secrets while rotating: a receiver holding either one accepts.
    let both = signature_header(&[new.clone(), old.clone()], SVIX_ID, SVIX_TS, SVIX_BODY);
    assert_eq!(both.split(' ').count(), 2);
    assert!(both.ends_with(SVIX_SIG));
    for receiver in [&old, &new] {
        let r = verify(
            std::slice::from_ref(receiver),
            &h(SVIX_ID, &ts, &both),
            SVIX_BODY,
            SVIX_TS,
            DEFAULT_TOLERANCE,
        );
        assert_eq!(r, Ok(()));
    }
}

#[test]
fn reads_the_three_headers() {
    let mut m = http::HeaderMap::new();
    m.insert("webhook-id", SVIX_ID.parse().unwrap());
    m.insert("webhook-timestamp", SVIX_TS.to_string().parse().unwrap());
    assert_eq!(
        SignatureHeaders::from_header_map(&m).unwrap_err(),
        VerifyError::MissingHeader("webhook-signature")
    );
    m.insert("webhook-signature", SVIX_SIG.parse().unwrap());
    let hs = SignatureHeaders::from_header_map(&m).unwrap();
    let s = [SigningSecret::parse(SVIX_SECRET).unwrap()];
    assert_eq!(
        verify(&s, &hs, SVIX_BODY, SVIX_TS, DEFAULT_TOLERANCE),
        Ok(())
    );
}
