//! Timestamps: RFC 3339, UTC, always 3 fractional digits (`2026-11-21T18:30:00.120Z`), which
//! is what the protocol's `created_at` holds (and sorts as text).

use time::macros::format_description;
use time::OffsetDateTime;

pub fn now_rfc3339() -> String {
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    OffsetDateTime::now_utc().format(&fmt).unwrap_or_default()
}
