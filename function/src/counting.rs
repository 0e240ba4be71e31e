//! The exact count of Connected clients: the pure decision, no I/O.
//!
//! The count is kept beside the table, from its stream: one *tally* per client (which
//! revision of the client's item was counted, and whether it was Connected then) and a
//! few counter shards whose sum is the count. A tally changes only together with its
//! counter shard, in one transaction ([`crate::counts`]), so the sum always equals the
//! number of tallies that say Connected.
//!
//! A stream record is applied only when it is newer than the tally (the item's
//! `Revision` grows with every write), so a duplicated, replayed or reordered record
//! changes nothing, and the tallies converge on the items as they are. A removed item's
//! tally is deleted: a client whose item comes back starts again at revision 1.

/// What a stream record (or a read of the item) says about a client's item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observed {
    /// The item's `Revision`: of the new image, or of the old one for a removal.
    pub revision: u64,
    /// Some(whether it is Connected); None: the item was removed.
    pub connected: Option<bool>,
}

/// A client's tally: the revision last counted, and whether it was Connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub revision: u64,
    pub connected: bool,
}

/// What to do with an observation, given the tally as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Not newer than what is counted: nothing to write.
    Stale,
    /// Replace the tally (None: delete it) and add `delta` to the count, atomically.
    Write { tally: Option<Tally>, delta: i64 },
}

pub fn step(tally: Option<Tally>, observed: Observed) -> Step {
    let was_connected = i64::from(tally.is_some_and(|t| t.connected));
    match observed.connected {
        Some(connected) => {
            if tally.is_some_and(|t| t.revision >= observed.revision) {
                return Step::Stale;
            }
            Step::Write {
                tally: Some(Tally {
                    revision: observed.revision,
                    connected,
                }),
                delta: i64::from(connected) - was_connected,
            }
        }
        // The removal's revision is its old image's: a tally of a later revision is of
        // an item written after the removal.
        None => match tally {
            Some(t) if t.revision <= observed.revision => Step::Write {
                tally: None,
                delta: -was_connected,
            },
            _ => Step::Stale,
        },
    }
}

/// The tally a record's old image implies, the likeliest state before the record: what
/// the first, read-free write assumes. Only its `connected` is relied on; the write
/// accepts any older revision.
pub fn assumed_before(old_image_connected: Option<bool>) -> Option<Tally> {
    old_image_connected.map(|connected| Tally {
        revision: 0,
        connected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(revision: u64, connected: Option<bool>) -> Observed {
        Observed {
            revision,
            connected,
        }
    }

    fn tally(revision: u64, connected: bool) -> Option<Tally> {
        Some(Tally {
            revision,
            connected,
        })
    }

    #[test]
    fn a_first_connect_counts_one() {
        assert_eq!(
            step(None, seen(1, Some(true))),
            Step::Write {
                tally: tally(1, true),
                delta: 1
            }
        );
    }

    #[test]
    fn a_disconnect_after_a_counted_connect_counts_minus_one() {
        assert_eq!(
            step(tally(1, true), seen(2, Some(false))),
            Step::Write {
                tally: tally(2, false),
                delta: -1
            }
        );
    }

    #[test]
    fn duplicates_and_older_records_are_stale() {
        assert_eq!(step(tally(2, false), seen(2, Some(false))), Step::Stale);
        assert_eq!(step(tally(2, false), seen(1, Some(true))), Step::Stale);
    }

    #[test]
    fn a_removal_deletes_the_tally_and_its_count() {
        assert_eq!(
            step(tally(3, true), seen(3, None)),
            Step::Write {
                tally: None,
                delta: -1
            }
        );
        assert_eq!(step(None, seen(3, None)), Step::Stale);
        assert_eq!(step(tally(4, true), seen(3, None)), Step::Stale);
    }
}
