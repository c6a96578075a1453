//! What an HTTP answer (or its absence) means for an asynchronous webhook.
//!
//! 2xx: delivered. 408, 429, 5xx, timeouts and connection errors: try again (the CRM or the
//! network may recover), honouring `Retry-After`. Any other status, redirects included
//! (webhook URLs are not followed, so a moved endpoint is a configuration error), fails for
//! good: sending the same body again would get the same answer.

use std::time::{Duration, SystemTime};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Done,
    Retry {
        after: Option<Duration>,
        cause: String,
    },
    Permanent {
        cause: String,
    },
}

pub fn classify_status(status: u16, retry_after: Option<&str>, now: SystemTime) -> Verdict {
    match status {
        200..=299 => Verdict::Done,
        408 | 429 | 500..=599 => Verdict::Retry {
            after: retry_after.and_then(|v| parse_retry_after(v, now)),
            cause: format!("CRM answered {status}"),
        },
        300..=399 => Verdict::Permanent {
            cause: format!("CRM answered {status} (a redirect); configure the final webhook URL"),
        },
        _ => Verdict::Permanent {
            cause: format!("CRM answered {status}"),
        },
    }
}

/// Transport failures: every one is worth another try except a request that could not even be
/// built (a bad URL), which will never work.
pub fn classify_error(e: &reqwest::Error) -> Verdict {
    if e.is_builder() {
        return Verdict::Permanent {
            cause: format!("bad webhook request: {e}"),
        };
    }
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    Verdict::Retry {
        after: None,
        cause: format!("{what}: {}", error_chain(e)),
    }
}

/// The error and its sources on one line (reqwest's Display alone hides the useful part).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// `Retry-After` as delta-seconds or an HTTP date; a date in the past means now.
pub fn parse_retry_after(v: &str, now: SystemTime) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(classify_status(200, None, now), Verdict::Done);
        assert_eq!(classify_status(204, Some("5"), now), Verdict::Done);
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(
                matches!(
                    classify_status(s, None, now),
                    Verdict::Retry { after: None, .. }
                ),
                "{s}"
            );
        }
        for s in [301, 302, 400, 401, 403, 404, 410, 413, 422] {
            assert!(
                matches!(classify_status(s, None, now), Verdict::Permanent { .. }),
                "{s}"
            );
        }
        assert!(matches!(
            classify_status(429, Some("7"), now),
            Verdict::Retry { after: Some(d), .. } if d == Duration::from_secs(7)
        ));
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(90))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }
}
