//! Property tests of the level-triggered announcements ([`iot_connectivity::announcements::decision`])
//! over generated histories. A client connects and disconnects (flaps shorter than the
//! grace period, outages longer); its lifecycle events reach the handler out of order and
//! duplicated; stream records wake the notifier late, or are lost; grace checks and the
//! reconciler's passes look too. Every look is a sequence of steps (read and decide,
//! claim, put, confirm) that other work interleaves with, and each step may fail: before
//! the claim, after it, a PutEvents entry refused, after the put. The model applies each
//! conditional write atomically, as DynamoDB does, with the conditions the store writes.
//!
//! At quiescence (failures over, every event delivered, time past the grace period and a
//! reconcile pass), the client's last announcement agrees with its status, announcements
//! alternate, and no eventId is announced with two statuses.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

use iot_connectivity::announcements::decision::{
    claimable, look, may_put, next_sequence, Announced, Snapshot, Transition, Verdict,
    CLAIM_PUT_DEADLINE_MS,
};
use iot_connectivity::presence::ordering::{decide, Decision, Latest, Mark, Presence};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const GRACE_MS: i64 = 60_000;
const RECONCILE_MS: i64 = 60_000;
const CLIENT: &str = "site-1/gw-7";

/// The item as the store keeps it.
#[derive(Debug, Default, Clone)]
struct Item {
    latest: Latest,
    revision: u64,
    owed: bool,
    disconnect_recorded_at: Option<i64>,
    announced: Option<Announced>,
    /// When the newest announcement was claimed.
    claimed_at: Option<i64>,
    /// The pending announcement's status, as its stored detail says.
    pending_status: Option<Presence>,
    /// The newest announcement's sequence.
    sequence: Option<u64>,
    /// The token of the look holding the pending announcement's claim.
    claim: Option<u64>,
}

impl Item {
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            status: self.latest.presence(),
            connect_time: self.latest.connect.map(|mark| mark.timestamp),
            disconnect_time: self.latest.disconnect.map(|mark| mark.timestamp),
            disconnect_recorded_at: self.disconnect_recorded_at,
            announced: self.announced.clone(),
            announced_at: self.claimed_at,
            claim: self.claim.map(|token| token.to_string()),
            revision: (self.revision > 0).then_some(self.revision),
            owed: self.owed,
            sequence: self.sequence,
            created: None,
        }
    }

    /// Whether a write leaves a stream record the notifier's filter passes.
    fn wakes(&self) -> bool {
        self.owed && !self.announced.as_ref().is_some_and(|a| a.pending)
    }
}

/// One step of the notifier's look at the client, with what the earlier steps decided.
#[derive(Debug, Clone)]
enum Step {
    Read {
        schedule_waits: bool,
    },
    Claim {
        transition: Transition,
        revision: Option<u64>,
        sequence: Option<u64>,
        token: u64,
    },
    /// Takes over an expired claim, on condition that nobody else did.
    Resume {
        event_id: String,
        claimed_at: Option<i64>,
        status: Presence,
        settle: Option<(Option<u64>, Presence)>,
        token: u64,
    },
    /// Starts a PutEvents attempt, unless the claim has passed the fence.
    Put {
        event_id: String,
        status: Presence,
        settle: Option<(Option<u64>, Presence)>,
        token: u64,
        claimed_at: i64,
        /// As its stored detail says.
        sequence: u64,
    },
    /// The put failed, and the look said so: its claim is released.
    Release {
        event_id: String,
        token: u64,
    },
    Confirm {
        event_id: String,
        settle: Option<(Option<u64>, Presence)>,
        token: u64,
    },
    Settle {
        revision: Option<u64>,
    },
}

#[derive(Debug, Clone)]
enum Task {
    Deliver(Mark),
    Look(Step),
    Reconcile,
}

struct World {
    item: Item,
    /// (eventId, status, sequence) in the order put on the bus, duplicates included.
    bus: Vec<(String, Presence, u64)>,
    /// Per eventId, the confirmations that failed after their put: each may be put again.
    unconfirmed: HashMap<String, usize>,
    queue: BinaryHeap<Reverse<(i64, u64)>>,
    tasks: HashMap<u64, Task>,
    next_id: u64,
    rng: StdRng,
    failures: f64,
    /// Until when failures are injected; then the outage is over.
    failing_until: i64,
    /// Stream records lost (never delivered) with this probability.
    lost: f64,
    /// A look stalls before its put (a slow batch, a paused process) with this probability,
    /// past the claim's lease.
    stalls: f64,
    /// Whether a look checks its claim's age before putting (the fence).
    fenced: bool,
}

impl World {
    fn new(seed: u64, failures: f64, failing_until: i64, lost: f64) -> Self {
        Self {
            item: Item::default(),
            bus: Vec::new(),
            unconfirmed: HashMap::new(),
            queue: BinaryHeap::new(),
            tasks: HashMap::new(),
            next_id: 0,
            rng: StdRng::seed_from_u64(seed),
            failures,
            failing_until,
            lost,
            stalls: 0.0,
            fenced: true,
        }
    }

    /// Runs every task due up to `end`, in time order.
    fn run_until(&mut self, end: i64) {
        while let Some(Reverse((now, id))) = self.queue.pop() {
            if now > end {
                break;
            }
            let task = self.tasks.remove(&id).expect("a queued task");
            self.run(now, task);
        }
    }

    fn at(&mut self, time: i64, task: Task) {
        self.next_id += 1;
        self.tasks.insert(self.next_id, task);
        self.queue.push(Reverse((time, self.next_id)));
    }

    fn fails(&mut self, now: i64) -> bool {
        now < self.failing_until && self.rng.random_bool(self.failures)
    }

    /// A step happens a little later, so other work interleaves.
    fn later(&mut self, now: i64) -> i64 {
        now + self.rng.random_range(1..2_000)
    }

    /// When a look that claimed at `now` puts: a little later, or, while faults last, if it
    /// stalls, past the claim's lease. (Stalls end with the other faults: a look stalling at
    /// the end of the run would still be owed when the run stops, which is no disagreement.)
    fn before_put(&mut self, now: i64) -> i64 {
        if self.stalls > 0.0 && now < self.failing_until && self.rng.random_bool(self.stalls) {
            now + self
                .rng
                .random_range(CLAIM_PUT_DEADLINE_MS..2 * CLAIM_PUT_DEADLINE_MS)
        } else {
            self.later(now)
        }
    }

    /// Whether the look drawing `token` holds the claim of the pending `event_id`.
    fn holds(&self, event_id: &str, token: u64) -> bool {
        self.item
            .announced
            .as_ref()
            .is_some_and(|a| a.pending && a.event_id == event_id)
            && self.item.claim == Some(token)
    }

    fn wake(&mut self, now: i64) {
        if self.item.wakes() && !self.rng.random_bool(self.lost) {
            let when = now + self.rng.random_range(10..5_000);
            self.at(
                when,
                Task::Look(Step::Read {
                    schedule_waits: true,
                }),
            );
        }
    }

    fn run(&mut self, now: i64, task: Task) {
        match task {
            Task::Deliver(mark) => {
                if self.fails(now) {
                    // The handler failed: Lambda retries the event later.
                    let when = now + self.rng.random_range(1_000..60_000);
                    return self.at(when, Task::Deliver(mark));
                }
                if let Decision::Apply { .. } = decide(&self.item.latest, &mark) {
                    match mark.presence {
                        Presence::Connected => self.item.latest.connect = Some(mark),
                        Presence::Disconnected => self.item.latest.disconnect = Some(mark),
                    }
                    self.item.revision += 1;
                    self.item.owed = true;
                    if mark.presence == Presence::Disconnected {
                        self.item.disconnect_recorded_at = Some(now);
                    }
                    self.wake(now);
                }
            }
            Task::Reconcile => {
                if self.item.owed {
                    self.at(
                        now,
                        Task::Look(Step::Read {
                            schedule_waits: false,
                        }),
                    );
                    // Passes overlap (an invocation outlasting the interval, a grace check
                    // due at the same time): a second look at nearly the same moment.
                    if self.rng.random_bool(0.5) {
                        let when = now + self.rng.random_range(0..1_000);
                        self.at(
                            when,
                            Task::Look(Step::Read {
                                schedule_waits: false,
                            }),
                        );
                    }
                }
                self.at(now + RECONCILE_MS, Task::Reconcile);
            }
            Task::Look(step) => {
                if self.fails(now) {
                    // A refused put is seen by its look, which releases the claim; any
                    // other failure (a crash, a lost call) leaves the item as it is.
                    if let Step::Confirm { event_id, .. } = &step {
                        *self.unconfirmed.entry(event_id.clone()).or_default() += 1;
                    }
                    if let (
                        Step::Put {
                            event_id, token, ..
                        },
                        true,
                    ) = (&step, self.rng.random_bool(0.5))
                    {
                        let when = self.later(now);
                        let (event_id, token) = (event_id.clone(), *token);
                        self.at(when, Task::Look(Step::Release { event_id, token }));
                    }
                    return;
                }
                self.step(now, step);
            }
        }
    }

    fn step(&mut self, now: i64, step: Step) {
        match step {
            Step::Read { schedule_waits } => {
                self.next_id += 1;
                let token = self.next_id;
                let snapshot = self.item.snapshot();
                let next = match look(CLIENT, &snapshot, GRACE_MS, now, None) {
                    Verdict::Settled if !snapshot.owed => None,
                    Verdict::Settled => Some(Step::Settle {
                        revision: snapshot.revision,
                    }),
                    Verdict::WaitUntil { due_at, .. } => {
                        if schedule_waits {
                            self.at(
                                due_at,
                                Task::Look(Step::Read {
                                    schedule_waits: true,
                                }),
                            );
                        }
                        None
                    }
                    Verdict::ClaimedElsewhere => None,
                    Verdict::ResumePending => {
                        let announced = snapshot.announced.clone().expect("pending");
                        let status = self.item.pending_status.expect("pending detail");
                        Some(Step::Resume {
                            event_id: announced.event_id,
                            claimed_at: snapshot.announced_at,
                            status,
                            settle: (snapshot.status == Some(announced.status))
                                .then_some((snapshot.revision, announced.status)),
                            token,
                        })
                    }
                    Verdict::Announce(transition) => Some(Step::Claim {
                        transition,
                        revision: snapshot.revision,
                        sequence: snapshot.sequence,
                        token,
                    }),
                };
                if let Some(next) = next {
                    let when = self.later(now);
                    self.at(when, Task::Look(next));
                }
            }
            Step::Claim {
                transition,
                revision,
                sequence,
                token,
            } => {
                let token_text = token.to_string();
                if claimable(
                    &self.item.snapshot(),
                    &transition,
                    revision,
                    sequence,
                    &token_text,
                ) {
                    // Decided on this very revision: the table says what is announced.
                    let shown = match transition.status {
                        Presence::Connected => self.item.latest.connect,
                        Presence::Disconnected => self.item.latest.disconnect,
                    };
                    assert_eq!(self.item.latest.presence(), Some(transition.status));
                    assert_eq!(shown.map(|m| m.timestamp), Some(transition.at));
                    self.item.announced = Some(Announced {
                        status: transition.status,
                        event_id: transition.event_id(),
                        pending: true,
                    });
                    self.item.pending_status = Some(transition.status);
                    self.item.claimed_at = Some(now);
                    let sequence = next_sequence(sequence, now);
                    self.item.sequence = Some(sequence);
                    self.item.claim = Some(token);
                    let when = self.before_put(now);
                    self.at(
                        when,
                        Task::Look(Step::Put {
                            event_id: transition.event_id(),
                            status: transition.status,
                            settle: Some((revision, transition.status)),
                            token,
                            claimed_at: now,
                            sequence,
                        }),
                    );
                } else {
                    // The item moved on: look again.
                    let when = self.later(now);
                    self.at(
                        when,
                        Task::Look(Step::Read {
                            schedule_waits: true,
                        }),
                    );
                }
            }
            Step::Resume {
                event_id,
                claimed_at,
                status,
                settle,
                token,
            } => {
                let ours = self.item.announced.as_ref().is_some_and(|a| {
                    a.pending && a.event_id == event_id && self.item.claimed_at == claimed_at
                });
                if ours {
                    self.item.claimed_at = Some(now);
                    self.item.claim = Some(token);
                    let sequence = self.item.sequence.expect("claimed with one");
                    let when = self.before_put(now);
                    self.at(
                        when,
                        Task::Look(Step::Put {
                            event_id,
                            status,
                            settle,
                            token,
                            claimed_at: now,
                            sequence,
                        }),
                    );
                }
            }
            Step::Release { event_id, token } => {
                if self.holds(&event_id, token) {
                    self.item.claimed_at = Some(0);
                    self.item.claim = None;
                }
            }
            Step::Put {
                event_id,
                status,
                settle,
                token,
                claimed_at,
                sequence,
            } => {
                if self.fenced && !may_put(now - claimed_at, CLAIM_PUT_DEADLINE_MS) {
                    let when = self.later(now);
                    return self.at(when, Task::Look(Step::Release { event_id, token }));
                }
                self.bus.push((event_id.clone(), status, sequence));
                let when = self.later(now);
                self.at(
                    when,
                    Task::Look(Step::Confirm {
                        event_id,
                        settle,
                        token,
                    }),
                );
            }
            Step::Confirm {
                event_id,
                settle,
                token,
            } => {
                if !self.holds(&event_id, token) {
                    return;
                }
                let Some(announced) = &mut self.item.announced else {
                    return;
                };
                announced.pending = false;
                self.item.pending_status = None;
                self.item.claim = None;
                match settle {
                    Some((revision, _))
                        if (self.item.revision > 0).then_some(self.item.revision) == revision =>
                    {
                        self.item.owed = false;
                    }
                    // Still owed: the confirmation's own stream record wakes the notifier.
                    _ => self.wake(now),
                }
            }
            Step::Settle { revision } => {
                let snapshot = self.item.snapshot();
                if snapshot.revision == revision
                    && snapshot.owed
                    && !snapshot.announced.as_ref().is_some_and(|a| a.pending)
                {
                    self.item.owed = false;
                }
            }
        }
    }
}

/// A true history: sessions with flaps and outages, versions counting up.
fn history(rng: &mut StdRng, sessions: usize) -> Vec<Mark> {
    let mut marks = Vec::new();
    let mut t = 1_700_000_000_000;
    for version in 1..=sessions as u64 {
        marks.push(Mark {
            presence: Presence::Connected,
            version,
            timestamp: t,
        });
        t += rng.random_range(1_000..200_000);
        if version < sessions as u64 || rng.random_bool(0.5) {
            marks.push(Mark {
                presence: Presence::Disconnected,
                version,
                timestamp: t,
            });
            // A flap (back within the grace period) or an outage.
            t += if rng.random_bool(0.5) {
                rng.random_range(100..GRACE_MS / 2)
            } else {
                rng.random_range(GRACE_MS * 2..GRACE_MS * 5)
            };
        }
    }
    marks
}

/// Runs the world to quiescence; the bus and the item at the end.
fn simulate(seed: u64, sessions: usize, failures: f64, lost: f64, duplicated: f64) -> World {
    simulate_with(seed, sessions, failures, lost, duplicated, |_| {})
}

fn simulate_with(
    seed: u64,
    sessions: usize,
    failures: f64,
    lost: f64,
    duplicated: f64,
    configure: impl FnOnce(&mut World),
) -> World {
    let mut rng = StdRng::seed_from_u64(seed);
    let marks = history(&mut rng, sessions);
    let start = marks[0].timestamp;
    let span = marks.last().unwrap().timestamp - start;
    let mut world = World::new(seed ^ 0x5eed, failures, start + span + GRACE_MS * 3, lost);
    configure(&mut world);
    for mark in marks {
        // Delivered late (reordered) and sometimes twice, as the rules engine does.
        for _ in 0..if rng.random_bool(duplicated) { 2 } else { 1 } {
            let when = mark.timestamp + rng.random_range(0..GRACE_MS);
            world.at(when, Task::Deliver(mark));
        }
    }
    world.at(start + rng.random_range(0..RECONCILE_MS), Task::Reconcile);
    world.run_until(start + span + GRACE_MS * 10 + RECONCILE_MS * 5);
    world
}

/// The announcements as a consumer sees them: first-seen order, deduplicated by eventId.
fn seen(bus: &[(String, Presence, u64)]) -> Vec<(String, Presence)> {
    let mut first: BTreeMap<&str, Presence> = BTreeMap::new();
    let mut order = Vec::new();
    for (event_id, status, _) in bus {
        match first.get(event_id.as_str()) {
            Some(earlier) => assert_eq!(earlier, status, "eventId {event_id} with two statuses"),
            None => {
                first.insert(event_id, *status);
                order.push((event_id.clone(), *status));
            }
        }
    }
    order
}

fn assert_agrees(world: &World) {
    let seen = seen(&world.bus);
    let status = world.item.latest.presence();
    for pair in seen.windows(2) {
        assert_ne!(pair[0].1, pair[1].1, "announcements alternate: {seen:?}");
    }
    if let Some(first) = seen.first() {
        assert_eq!(
            first.1,
            Presence::Connected,
            "a first sighting is a connect"
        );
    }
    match (status, seen.last()) {
        (Some(Presence::Connected), Some((_, Presence::Connected))) => {}
        (Some(Presence::Disconnected), Some((_, Presence::Disconnected)))
        | (Some(Presence::Disconnected), None) => {}
        (status, last) => {
            panic!("the last announcement {last:?} contradicts the table's {status:?}: {seen:?}")
        }
    }
    assert!(!world.item.owed, "settled at quiescence: {:?}", world.item);
    assert!(
        !world.item.announced.as_ref().is_some_and(|a| a.pending),
        "nothing pending at quiescence"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    /// Reordered and duplicated delivery, lost stream records, and failures at every
    /// step of every look: at quiescence the last announcement agrees with the table.
    #[test]
    fn any_interleaving_with_failures_reaches_agreement(
        seed in any::<u64>(),
        sessions in 1usize..8,
        failures in 0.0f64..0.5,
        lost in 0.0f64..0.5,
        duplicated in 0.0f64..0.5,
    ) {
        assert_agrees(&simulate(seed, sessions, failures, lost, duplicated));
    }

    /// Without failures, no announcement is put twice: a look that finds another's claim
    /// in progress leaves it to its claimer.
    #[test]
    fn without_failures_nothing_is_announced_twice(
        seed in any::<u64>(),
        sessions in 1usize..8,
        lost in 0.0f64..0.5,
        duplicated in 0.0f64..0.5,
    ) {
        let world = simulate(seed, sessions, 0.0, lost, duplicated);
        assert_agrees(&world);
        prop_assert_eq!(world.bus.len(), seen(&world.bus).len(), "{:?}", world.bus);
    }

    /// With failures, an announcement is put again only after a put whose confirmation
    /// failed: of the looks that find an expired claim, one takes it over.
    #[test]
    fn an_announcement_is_put_again_only_after_a_failed_confirmation(
        seed in any::<u64>(),
        sessions in 1usize..8,
        failures in 0.0f64..0.5,
        lost in 0.0f64..0.5,
        duplicated in 0.0f64..0.5,
    ) {
        let world = simulate(seed, sessions, failures, lost, duplicated);
        let mut puts: HashMap<&str, usize> = HashMap::new();
        for (event_id, _, _) in &world.bus {
            *puts.entry(event_id.as_str()).or_default() += 1;
        }
        for (event_id, count) in puts {
            let again = world.unconfirmed.get(event_id).copied().unwrap_or(0);
            prop_assert!(count <= 1 + again, "{} put {} times, {} unconfirmed", event_id, count, again);
        }
    }

    /// With every stream record lost (and failures), the reconciler's passes alone
    /// reach agreement.
    #[test]
    fn with_every_stream_record_lost_the_reconciler_settles_everything(
        seed in any::<u64>(),
        sessions in 1usize..8,
        failures in 0.0f64..0.5,
    ) {
        assert_agrees(&simulate(seed, sessions, failures, 1.0, 0.3));
    }
}

/// What a consumer that applies an announcement only if its sequence is above the last
/// one it applied ends on, given the bus in the order EventBridge delivered it.
fn applied_by_sequence(delivered: &[(String, Presence, u64)]) -> Option<Presence> {
    let mut last: Option<(u64, Presence)> = None;
    for (_, status, sequence) in delivered {
        if last.is_none_or(|(applied, _)| *sequence > applied) {
            last = Some((*sequence, *status));
        }
    }
    last.map(|(_, status)| status)
}

/// EventBridge's delivery: any order, some entries twice.
fn delivered(bus: &[(String, Presence, u64)], seed: u64) -> Vec<(String, Presence, u64)> {
    use rand::seq::SliceRandom;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out: Vec<_> = bus
        .iter()
        .flat_map(|entry| {
            let copies = if rng.random_bool(0.3) { 2 } else { 1 };
            std::iter::repeat_n(entry.clone(), copies)
        })
        .collect();
    out.shuffle(&mut rng);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    /// Delivered in any order and duplicated, the announcements applied by `sequence` leave
    /// a consumer on the table's status; each eventId carries one sequence, and later
    /// claims carry larger ones.
    #[test]
    fn a_consumer_applying_by_sequence_agrees_with_the_table_whatever_the_delivery_order(
        seed in any::<u64>(),
        sessions in 1usize..8,
        failures in 0.0f64..0.5,
        lost in 0.0f64..0.5,
        duplicated in 0.0f64..0.5,
        stalls in 0.0f64..0.2,
    ) {
        let world = simulate_with(seed, sessions, failures, lost, duplicated, |w| w.stalls = stalls);
        let mut sequences: HashMap<&str, u64> = HashMap::new();
        for (event_id, _, sequence) in &world.bus {
            let first = *sequences.entry(event_id.as_str()).or_insert(*sequence);
            prop_assert_eq!(first, *sequence, "{} with two sequences", event_id);
        }
        let applied = applied_by_sequence(&delivered(&world.bus, seed));
        match world.item.latest.presence() {
            Some(Presence::Connected) => prop_assert_eq!(applied, Some(Presence::Connected), "{:?}", world.bus),
            _ => prop_assert!(applied != Some(Presence::Connected), "{:?}", world.bus),
        }
    }

    /// Looks that stall past their claim's lease put nothing stale: in the order put on
    /// the bus, sequences never go back (so the bus never reads X, Y, X).
    #[test]
    fn a_look_stalled_past_its_fence_puts_nothing_after_a_newer_announcement(
        seed in any::<u64>(),
        sessions in 2usize..8,
        failures in 0.0f64..0.3,
        stalls in 0.05f64..0.3,
    ) {
        let world = simulate_with(seed, sessions, failures, 0.2, 0.2, |w| w.stalls = stalls);
        for pair in world.bus.windows(2) {
            prop_assert!(pair[0].2 <= pair[1].2, "put out of order: {:?}", world.bus);
        }
        assert_agrees(&world);
    }
}

/// Without the fence, a look stalled past its lease puts its announcement after the one
/// that followed it: the failure the fence exists for, found by the same world.
#[test]
fn without_the_fence_a_stalled_look_puts_a_stale_announcement() {
    let stale = (0..2_000u64).any(|seed| {
        let world = simulate_with(seed, 6, 0.0, 0.2, 0.2, |w| {
            w.stalls = 0.3;
            w.fenced = false;
        });
        world.bus.windows(2).any(|pair| pair[0].2 > pair[1].2)
    });
    assert!(
        stale,
        "the model never stalls a put past the next announcement"
    );
}

/// The reordered flap: true order c1 d1 c2 d2, d2 applied before c2, so c2 is
/// stale and the table ends Disconnected by d2. The device is announced offline once,
/// after d2's grace period.
#[test]
fn a_reordered_flap_announces_the_device_offline_once_after_its_grace_period() {
    let t = 1_700_000_000_000;
    let mark = |presence, version, timestamp| Mark {
        presence,
        version,
        timestamp,
    };
    let c1 = mark(Presence::Connected, 1, t);
    let d1 = mark(Presence::Disconnected, 1, t + 1_000);
    let c2 = mark(Presence::Connected, 2, t + 2_000);
    let d2 = mark(Presence::Disconnected, 2, t + 3_000);
    let mut world = World::new(7, 0.0, 0, 0.0);
    for (offset, mark) in [(0, c1), (30_000, d1), (31_000, d2), (32_000, c2)] {
        world.at(t + offset, Task::Deliver(mark));
    }
    world.at(t + 500, Task::Reconcile);
    world.run_until(t + 10 * GRACE_MS);
    let seen = seen(&world.bus);
    let d2_id = Transition {
        client_id: CLIENT.into(),
        status: Presence::Disconnected,
        at: d2.timestamp,
        created: 0,
    }
    .event_id();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[1], (d2_id, Presence::Disconnected));
    assert_agrees(&world);
}
