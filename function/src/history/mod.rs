//! Presence → history: every connect and disconnect kept once ([`store`]), sessions and
//! availability computed in the status's order ([`sessions`], pure), and how the CLI shows
//! them (`report`, feature `cli`). Uses [`crate::presence`]'s event model and ordering
//! rule, and [`crate::shared`].

#[cfg(feature = "cli")]
pub mod report;
pub mod sessions;
pub mod store;
