//! Whole numbers as JSON integers: the seed writes `"confidence": 1`, and a golden comparison
//! (and any CRM comparing text) must see `1`, not serde_json's `1.0` for an f64.

use serde::Serializer;

/// Largest f64 below which every whole value is exactly an i64 (2^53).
const EXACT: f64 = 9_007_199_254_740_992.0;

pub fn serialize_compact<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < EXACT {
        s.serialize_i64(*v as i64)
    } else {
        s.serialize_f64(*v)
    }
}
