//! Presence → status: a lifecycle event ([`event`]) ordered against the stored ones by a
//! pure rule ([`ordering`]) and written to the device's item only by conditional writes
//! ([`store`]); [`processor`] is the one code path of the presence role and `replay`.
//! Uses only [`crate::shared`] and, to write an event's history, [`crate::history`]'s store.

pub mod event;
pub mod ordering;
pub mod processor;
pub mod store;
