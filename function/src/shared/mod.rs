//! What every pipeline uses: the AWS configuration and HTTP client ([`aws`]), JSON logs
//! ([`logging`]), EMF metrics ([`metrics`]), the deployment's settings kept as table tags
//! ([`deployment`]), reads of the fleet through the status index ([`fleet`]), stream
//! batches ([`stream`]) and the dead-letter messages' events ([`dead_letter`]). It uses no pipeline but the presence
//! item's attribute names.

pub mod aws;
pub mod dead_letter;
pub mod deployment;
pub mod fleet;
pub mod logging;
pub mod metrics;
pub mod stream;
