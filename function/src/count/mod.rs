//! Status → the ConnectedDevices count: what a status change does to the count
//! ([`decision`], pure), the counts table of tallies and counter shards ([`table`]), and
//! the counter that applies the stream and publishes the sum ([`counter`]). Uses
//! [`crate::presence`] (the item's stream image) and [`crate::shared`].

pub mod counter;
pub mod decision;
pub mod table;
