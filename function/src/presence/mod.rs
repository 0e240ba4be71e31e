//! Presence → status: a lifecycle event ([`event`]) ordered against the stored ones by a
//! pure rule ([`ordering`]) and written to the device's item only by conditional writes
//! ([`store`]); the fleet read back through the status index ([`fleet`]). Uses
//! [`crate::shared`]; [`crate::ingest`] is the glue that applies an event here and keeps it
//! in [`crate::history`].

pub mod event;
pub mod fleet;
pub mod ordering;
pub mod store;
