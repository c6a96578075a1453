//! Natter wire protocol v1.
