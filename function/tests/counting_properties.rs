//! Property tests of the Connected count over generated histories: clients that connect,
//! disconnect and whose items are removed and come back; the stream of their status
//! changes delivered as Lambda delivers it (in order, with duplicates, and replayed from
//! an earlier checkpoint after a failed batch); and reads of the items arriving in any
//! order. The count is applied as the counts table applies it: a step decided on the
//! tally as it is (the conditional writes guarantee no other).
//!
//! Case count: 1024 per property by default; set PROPTEST_CASES to run more.

use std::collections::HashMap;

use iot_connectivity::counting::{step, Observed, Step, Tally};
use proptest::prelude::*;

#[derive(Debug, Clone, Copy)]
enum Change {
    Connect,
    Disconnect,
    /// A write that leaves Status alone (a connect failure, an announcement).
    Touch,
    Remove,
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        4 => Just(Change::Connect),
        4 => Just(Change::Disconnect),
        2 => Just(Change::Touch),
        1 => Just(Change::Remove),
    ]
}

/// The table as the processor leaves it, and the stream records the counter receives
/// (the module's filter: status changes, a first Connected, removals).
#[derive(Default)]
struct Table {
    items: HashMap<usize, (u64, bool)>,
    stream: Vec<(usize, Observed)>,
}

impl Table {
    fn apply(&mut self, client: usize, change: Change) {
        let before = self.items.get(&client).copied();
        let revision = before.map_or(1, |(revision, _)| revision + 1);
        let status = match (change, before) {
            (Change::Remove, Some((revision, _))) => {
                self.items.remove(&client);
                self.stream.push((
                    client,
                    Observed {
                        revision,
                        connected: None,
                    },
                ));
                return;
            }
            (Change::Remove, None) => return,
            (Change::Touch, None) => return,
            (Change::Touch, Some((_, connected))) => connected,
            (Change::Connect, _) => true,
            (Change::Disconnect, _) => false,
        };
        self.items.insert(client, (revision, status));
        let changed = match before {
            None => status,
            Some((_, was)) => was != status,
        };
        if changed {
            self.stream.push((
                client,
                Observed {
                    revision,
                    connected: Some(status),
                },
            ));
        }
    }

    fn connected(&self) -> i64 {
        self.items.values().filter(|(_, connected)| *connected).count() as i64
    }
}

/// The counts table: tallies and the count, changed together.
#[derive(Default)]
struct Counts {
    tallies: HashMap<usize, Tally>,
    count: i64,
}

impl Counts {
    fn apply(&mut self, client: usize, observed: Observed) {
        if let Step::Write { tally, delta } = step(self.tallies.get(&client).copied(), observed) {
            match tally {
                Some(tally) => self.tallies.insert(client, tally),
                None => self.tallies.remove(&client),
            };
            self.count += delta;
        }
        let tallied = self.tallies.values().filter(|t| t.connected).count() as i64;
        assert_eq!(self.count, tallied, "the count is the Connected tallies");
    }
}

/// Deliveries of a stream of `len` records: in order, each possibly twice, and now and
/// then back to an earlier checkpoint (a batch that failed part-way).
fn deliveries(len: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec((any::<bool>(), 0..8usize, any::<prop::sample::Index>()), len)
        .prop_map(move |plan| {
            let mut order = Vec::new();
            let mut next = 0;
            let mut replays = 0;
            while next < len {
                let (duplicate, replay_odds, back) = plan[next];
                order.push(next);
                if duplicate {
                    order.push(next);
                }
                if replay_odds == 0 && replays < len {
                    replays += 1;
                    next = back.index(next + 1);
                } else {
                    next += 1;
                }
            }
            order
        })
}

fn histories() -> impl Strategy<Value = Vec<(usize, Change)>> {
    prop::collection::vec((0..6usize, change()), 0..80)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(1024)
    ))]

    /// Every record delivered, duplicated and replayed as Lambda may: the count ends
    /// equal to the Connected items, and never goes below zero on the way.
    #[test]
    fn the_stream_as_lambda_delivers_it_counts_exactly(
        (history, order) in histories().prop_flat_map(|history| {
            let mut table = Table::default();
            for (client, change) in &history {
                table.apply(*client, *change);
            }
            let len = table.stream.len();
            (Just(history), deliveries(len))
        })
    ) {
        let mut table = Table::default();
        for (client, change) in &history {
            table.apply(*client, *change);
        }
        let mut counts = Counts::default();
        for index in order {
            let (client, observed) = table.stream[index];
            counts.apply(client, observed);
            prop_assert!(counts.count >= 0);
        }
        prop_assert_eq!(counts.count, table.connected());
    }

    /// Without removals, observations (stream records, or reads of an item at any
    /// time) may arrive in any order and any number of times: once each client's newest
    /// has arrived, the count is exact.
    #[test]
    fn observations_in_any_order_converge(
        (history, shuffle, repeats) in prop::collection::vec(
            (0..6usize, prop_oneof![Just(Change::Connect), Just(Change::Disconnect), Just(Change::Touch)]),
            0..60,
        ).prop_flat_map(|history| {
            let len = history.len();
            (Just(history), Just(()).prop_perturb(move |_, mut rng| {
                let mut order: Vec<usize> = (0..len).collect();
                for i in (1..len).rev() {
                    order.swap(i, rng.random_range(0..=i));
                }
                order
            }), prop::collection::vec(0..3usize, len))
        })
    ) {
        let mut table = Table::default();
        let mut reads = Vec::new();
        for (client, change) in &history {
            table.apply(*client, *change);
            if let Some((revision, connected)) = table.items.get(client) {
                reads.push((*client, Observed { revision: *revision, connected: Some(*connected) }));
            }
        }
        let mut counts = Counts::default();
        for index in shuffle {
            if let Some((client, observed)) = reads.get(index) {
                for _ in 0..=repeats[index] {
                    counts.apply(*client, *observed);
                }
            }
        }
        prop_assert_eq!(counts.count, table.connected());
    }
}
