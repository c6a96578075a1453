//! Timestamps: RFC 3339, UTC, always 3 fractional digits (`2026-11-21T18:30:00.120Z`), which
//! is what the protocol's `created_at` holds (and sorts as text).

use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::OffsetDateTime;

const FORMAT: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

pub fn now_rfc3339() -> String {
    OffsetDateTime::now_utc().format(FORMAT).unwrap_or_default()
}

/// The time `ago` before now, in the same form (what sweeps compare stored times with).
pub fn rfc3339_ago(ago: std::time::Duration) -> String {
    (OffsetDateTime::now_utc() - ago)
        .format(FORMAT)
        .unwrap_or_default()
}
