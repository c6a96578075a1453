//! Natter chat widget.
