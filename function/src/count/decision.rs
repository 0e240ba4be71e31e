//! The exact count of Connected clients: the pure decision, no I/O.
//!
//! The count is kept beside the table, from its stream: one *tally* per client (which
//! version of the client's item was counted, and whether it was Connected then) and a
//! few counter shards whose sum is the count. A tally changes only together with its
//! counter shard, in one transaction ([`crate::count::table`]), so the sum always equals the
//! number of tallies that say Connected.
//!
//! Versions are ordered by [`Version`]: the item's `CreatedTime` (a removed and recreated
//! item starts a later life), its `Revision` within that life (every write adds one),
//! and last its removal. An observation is applied only when it is newer than the
//! tally, so duplicated, replayed, late or reordered stream records (and reads of the
//! item racing the stream) change nothing, and the tallies converge on the items as
//! they are. A removal leaves a tombstone tally, so that older records arriving after it
//! stay stale; the counts table expires tombstones after the stream's retention.

/// Where an observation stands in a client's history; compared field by field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    /// The item's `CreatedTime` (0 for an item written before it was recorded).
    pub created: u64,
    /// The item's `Revision`.
    pub revision: u64,
    /// Whether this is the item's removal (which follows its last write).
    pub removed: bool,
}

/// What a stream record (or a read of the item) says about a client's item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observed {
    /// For a removal: the old image's `CreatedTime` and `Revision`, with `removed`.
    pub version: Version,
    /// Whether the item is Connected (false once removed).
    pub connected: bool,
}

impl Observed {
    pub fn item(created: u64, revision: u64, connected: bool) -> Self {
        Self {
            version: Version {
                created,
                revision,
                removed: false,
            },
            connected,
        }
    }

    pub fn removal(created: u64, revision: u64) -> Self {
        Self {
            version: Version {
                created,
                revision,
                removed: true,
            },
            connected: false,
        }
    }
}

/// A client's tally: the version last counted, and whether it was Connected.
pub type Tally = Observed;

/// What to do with an observation, given the tally as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Not newer than what is counted: nothing to write.
    Stale,
    /// Replace the tally with the observation and add `delta` to the count, atomically.
    Write { delta: i64 },
}

pub fn step(tally: Option<Tally>, observed: Observed) -> Step {
    match tally {
        Some(tally) if tally.version >= observed.version => Step::Stale,
        _ => Step::Write {
            delta: i64::from(observed.connected) - i64::from(tally.is_some_and(|t| t.connected)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_connect_counts_one() {
        assert_eq!(
            step(None, Observed::item(5, 1, true)),
            Step::Write { delta: 1 }
        );
    }

    #[test]
    fn a_disconnect_after_a_counted_connect_counts_minus_one() {
        let tally = Observed::item(5, 1, true);
        assert_eq!(
            step(Some(tally), Observed::item(5, 2, false)),
            Step::Write { delta: -1 }
        );
    }

    #[test]
    fn duplicates_and_older_records_are_stale() {
        let tally = Observed::item(5, 2, false);
        assert_eq!(step(Some(tally), Observed::item(5, 2, false)), Step::Stale);
        assert_eq!(step(Some(tally), Observed::item(5, 1, true)), Step::Stale);
    }

    #[test]
    fn a_removal_leaves_a_tombstone_that_only_a_later_life_passes() {
        let tally = Observed::item(5, 3, true);
        let removal = Observed::removal(5, 3);
        assert_eq!(step(Some(tally), removal), Step::Write { delta: -1 });
        assert_eq!(step(Some(removal), removal), Step::Stale);
        assert_eq!(step(Some(removal), Observed::item(5, 3, true)), Step::Stale);
        assert_eq!(
            step(Some(removal), Observed::item(9, 1, true)),
            Step::Write { delta: 1 }
        );
    }
}
