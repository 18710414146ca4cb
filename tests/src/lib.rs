//! Helpers shared by fernchat's cross-part tests.

pub mod python;
