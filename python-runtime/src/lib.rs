//! Python runtime.
