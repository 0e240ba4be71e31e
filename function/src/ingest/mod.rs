//! Lifecycle event in, everything it changes out: the one code path every event takes, in
//! the presence role and in `replay` alike ([`processor`]). Glue above two pipelines: it
//! writes the device's item through [`crate::presence`] and keeps the event through
//! [`crate::history`], so neither pipeline needs the other.

pub mod processor;
