//! Presence → status: a lifecycle event ([`event`]) ordered against the stored ones by a
//! pure rule ([`ordering`]) and written to the device's item only by conditional writes
//! ([`store`]); the fleet read back through the status index ([`fleet`]); [`processor`],
//! the glue of the presence role and `replay`. Uses [`crate::shared`]; only the processor
//! (glue) also writes each event to [`crate::history`]'s store.

pub mod event;
pub mod fleet;
pub mod ordering;
pub mod processor;
pub mod store;
