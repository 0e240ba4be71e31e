//! Property tests of the Connected count over generated histories: clients that connect,
//! disconnect and whose items are removed and come back; the stream of their status
//! changes delivered as Lambda delivers it (in order, with duplicates, and replayed from
//! an earlier checkpoint after a failed batch), or in any order at all, mixed with reads
//! of the items taken at any time. The count is applied as the counts table applies it:
//! a step decided on the tally as it is (the conditional writes guarantee no other).
//!
//! Case count: 1024 per property by default; set PROPTEST_CASES to run more.

use std::collections::HashMap;

use iot_connectivity::count::decision::{step, Observed, Step, Tally};

/// An item as the table holds it: CreatedTime, Revision, Connected.
type Item = (u64, u64, bool);
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
    items: HashMap<usize, Item>,
    stream: Vec<(usize, Observed)>,
    /// Every state an item was seen in, as a read at that moment would return it.
    reads: Vec<(usize, Observed)>,
    clock: u64,
}

impl Table {
    fn apply(&mut self, client: usize, change: Change) {
        self.clock += 1;
        let before = self.items.get(&client).copied();
        let connected = match (change, before) {
            (Change::Remove, Some((created, revision, _))) => {
                self.items.remove(&client);
                self.stream
                    .push((client, Observed::removal(created, revision)));
                return;
            }
            (Change::Remove | Change::Touch, None) => return,
            (Change::Touch, Some((_, _, connected))) => connected,
            (Change::Connect, _) => true,
            (Change::Disconnect, _) => false,
        };
        let (created, revision) = match before {
            Some((created, revision, _)) => (created, revision + 1),
            None => (self.clock, 1),
        };
        self.items.insert(client, (created, revision, connected));
        let observed = Observed::item(created, revision, connected);
        self.reads.push((client, observed));
        let changed = match before {
            None => connected,
            Some((_, _, was)) => was != connected,
        };
        if changed {
            self.stream.push((client, observed));
        }
    }

    fn connected(&self) -> i64 {
        self.items
            .values()
            .filter(|(_, _, connected)| *connected)
            .count() as i64
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
        if let Step::Write { delta } = step(self.tallies.get(&client).copied(), observed) {
            self.tallies.insert(client, observed);
            self.count += delta;
        }
        let tallied = self.tallies.values().filter(|t| t.connected).count() as i64;
        assert_eq!(self.count, tallied, "the count is the Connected tallies");
    }
}

/// Deliveries of a stream of `len` records: in order, each possibly twice, and now and
/// then back to an earlier checkpoint (a batch that failed part-way).
fn deliveries(len: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(
        (any::<bool>(), 0..8usize, any::<prop::sample::Index>()),
        len,
    )
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

    /// Stream records and reads of the items in any order, any number of times: once
    /// each record has arrived, the count is exact, removals and recreations included.
    #[test]
    fn observations_in_any_order_converge(
        (history, shuffle, repeats) in histories().prop_flat_map(|history| {
            let mut table = Table::default();
            for (client, change) in &history {
                table.apply(*client, *change);
            }
            let len = table.stream.len() + table.reads.len();
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
        for (client, change) in &history {
            table.apply(*client, *change);
        }
        let observations: Vec<_> = table.stream.iter().chain(&table.reads).copied().collect();
        let mut counts = Counts::default();
        for index in shuffle {
            let (client, observed) = observations[index];
            for _ in 0..=repeats[index] {
                counts.apply(client, observed);
            }
        }
        prop_assert_eq!(counts.count, table.connected());
    }
}
