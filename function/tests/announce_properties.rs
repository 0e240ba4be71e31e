//! Property tests of the announcement decisions ([`iot_connectivity::announce`]) over
//! generated histories: a client connects and disconnects (flaps shorter than the grace
//! period, outages longer), while the notifier's work (stream records, grace checks) runs
//! late, twice, and fails half-way (after recording an announcement, after putting it),
//! interleaved with the table's own changes. The model applies [`claim`] and the
//! conditional writes it stands for atomically, as DynamoDB does.

use std::collections::{BTreeMap, HashMap, HashSet};

use iot_connectivity::announce::{
    claim, due, on_change, Announced, Claim, Due, OnChange, Snapshot, Transition,
};
use iot_connectivity::ordering::Presence;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const GRACE_MS: i64 = 60_000;
/// Work runs within a quarter of this after it is due, and again so after each failure.
const LAG_MS: i64 = 5_000;
/// How late work may run after a chain of injected failures, for the completeness
/// properties (a chain this long has a negligible probability in the model).
const KEPT_UP_MS: i64 = LAG_MS * 20;

#[derive(Debug, Clone)]
enum Work {
    Stream {
        old: Option<Presence>,
        new: Snapshot,
    },
    Check(Transition),
}

#[derive(Debug)]
struct World {
    item: Snapshot,
    /// What was recorded with each pending announcement, to resume it.
    pending: Option<Transition>,
    /// Announcements put on the bus, in order: (transition, whether the table showed it
    /// when the announcement was decided).
    put: Vec<Transition>,
    failed_ids: HashSet<String>,
}

impl World {
    /// One attempt at `transition`; Err when a failure was injected part-way.
    fn attempt(
        &mut self,
        transition: &Transition,
        rng: &mut StdRng,
        failures: f64,
    ) -> Result<(), ()> {
        for _ in 0..8 {
            match claim(&self.item, transition) {
                Claim::Nothing => return Ok(()),
                Claim::ResumePending => {
                    let pending = self
                        .pending
                        .clone()
                        .expect("a pending announcement is recorded");
                    self.put_and_confirm(&pending, rng, failures)?;
                }
                Claim::Announce => {
                    // The claim is a conditional write: the table shows the transition now.
                    assert!(
                        self.item.shows(transition),
                        "an announcement contradicts the table"
                    );
                    self.item.announced = Some(Announced {
                        status: transition.status,
                        event_id: transition.event_id(),
                        pending: true,
                    });
                    self.pending = Some(transition.clone());
                    if rng.random_bool(failures) {
                        self.failed_ids.insert(transition.event_id());
                        return Err(()); // crashed after recording, before putting
                    }
                    self.put_and_confirm(transition, rng, failures)?;
                }
            }
        }
        panic!("no decision after 8 rounds");
    }

    fn put_and_confirm(
        &mut self,
        transition: &Transition,
        rng: &mut StdRng,
        failures: f64,
    ) -> Result<(), ()> {
        self.put.push(transition.clone());
        if rng.random_bool(failures) {
            self.failed_ids.insert(transition.event_id());
            return Err(()); // put, but crashed before confirming
        }
        // The confirming write is conditioned on the announcement's id.
        if let Some(announced) = &mut self.item.announced {
            if announced.event_id == transition.event_id() {
                announced.pending = false;
                self.pending = None;
            }
        }
        Ok(())
    }
}

/// Presence events at increasing times, starting with a connect, alternating.
fn history(gaps: &[i64]) -> Vec<(Presence, i64)> {
    let mut at = 1_000_000;
    gaps.iter()
        .enumerate()
        .map(|(i, gap)| {
            at += gap;
            let presence = if i % 2 == 0 {
                Presence::Connected
            } else {
                Presence::Disconnected
            };
            (presence, at)
        })
        .collect()
}

/// Runs the notifier over the history; returns the world at the end.
fn simulate(events: &[(Presence, i64)], seed: u64, duplicates: f64, failures: f64) -> World {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut world = World {
        item: Snapshot::default(),
        pending: None,
        put: vec![],
        failed_ids: HashSet::new(),
    };
    // Work by the time it runs; several pieces of work may share a time.
    let mut agenda: BTreeMap<i64, Vec<Work>> = BTreeMap::new();
    let schedule =
        |agenda: &mut BTreeMap<i64, Vec<Work>>, at: i64, work: Work, rng: &mut StdRng| {
            agenda
                .entry(at + rng.random_range(0..LAG_MS / 4))
                .or_default()
                .push(work.clone());
            if rng.random_bool(duplicates) {
                agenda
                    .entry(at + rng.random_range(0..KEPT_UP_MS))
                    .or_default()
                    .push(work);
            }
        };
    let mut next_event = 0;
    loop {
        let next_work = agenda.keys().next().copied();
        let event_at = events.get(next_event).map(|(_, at)| *at);
        match (event_at, next_work) {
            (Some(at), work) if work.is_none_or(|w| at <= w) => {
                let (presence, at) = events[next_event];
                next_event += 1;
                let old = world.item.status;
                world.item.status = Some(presence);
                match presence {
                    Presence::Connected => world.item.connect_time = Some(at),
                    Presence::Disconnected => world.item.disconnect_time = Some(at),
                }
                if old != Some(presence) {
                    let work = Work::Stream {
                        old,
                        new: world.item.clone(),
                    };
                    schedule(&mut agenda, at, work, &mut rng);
                }
            }
            (_, Some(now)) => {
                let batch = agenda.remove(&now).unwrap();
                for work in batch {
                    let result = match &work {
                        Work::Stream { old, new } => match on_change("dev", *old, new) {
                            OnChange::Announce(t) => world.attempt(&t, &mut rng, failures),
                            OnChange::CheckLater(t) => {
                                let due_at = t.at + GRACE_MS;
                                schedule(&mut agenda, due_at.max(now), Work::Check(t), &mut rng);
                                Ok(())
                            }
                            OnChange::Nothing => Ok(()),
                        },
                        Work::Check(t) => match due(t.at + GRACE_MS, now) {
                            Due::Later { delay_seconds } => {
                                let at = now + delay_seconds as i64 * 1000;
                                agenda.entry(at).or_default().push(work.clone());
                                Ok(())
                            }
                            Due::Now => world.attempt(t, &mut rng, failures),
                        },
                    };
                    if result.is_err() {
                        // Redelivered: the stream retries the record, SQS the message.
                        agenda
                            .entry(now + rng.random_range(1..LAG_MS / 4))
                            .or_default()
                            .push(work);
                    }
                }
            }
            (None, None) => return world,
            (Some(_), None) => unreachable!(),
        }
    }
}

fn gaps() -> impl Strategy<Value = Vec<i64>> {
    // Flaps well inside the grace period, outages well beyond it, and a few near it.
    let gap = prop_oneof![
        3 => 1i64..GRACE_MS / 2,
        3 => GRACE_MS * 2..GRACE_MS * 10,
        1 => GRACE_MS - LAG_MS..GRACE_MS + LAG_MS,
    ];
    prop::collection::vec(gap, 1..24)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn announcements_keep_the_guarantees(
        gaps in gaps(),
        seed in any::<u64>(),
        duplicates in 0.0f64..0.5,
        failures in prop_oneof![Just(0.0), 0.0f64..0.4],
    ) {
        let events = history(&gaps);
        let world = simulate(&events, seed, duplicates, failures);

        // The same eventId always names the same transition.
        let mut named: HashMap<String, &Transition> = HashMap::new();
        for t in &world.put {
            prop_assert_eq!(*named.entry(t.event_id()).or_insert(t), t);
        }
        // Duplicates only where a failure was retried.
        let mut seen = HashSet::new();
        for t in &world.put {
            if !seen.insert(t.event_id()) {
                prop_assert!(world.failed_ids.contains(&t.event_id()), "duplicate without a failure: {t:?}");
            }
        }
        // Announcements of the client alternate (a retried one repeats, in place).
        let mut distinct: Vec<&Transition> = world.put.iter().collect();
        distinct.dedup();
        for pair in distinct.windows(2) {
            prop_assert_ne!(pair[0].status, pair[1].status, "{:?}", distinct);
        }
        prop_assert!(!world.item.announced.as_ref().is_some_and(|a| a.pending), "left pending");

        // Completeness, for a notifier that keeps up (acts within KEPT_UP_MS): every
        // disconnect that outlasts the grace period by more than that is announced (after a
        // connect that lasted long enough to be seen), no flap is, and every return after an
        // announced disconnect is announced (as is the first connect).
        let announced: HashSet<String> = world.put.iter().map(Transition::event_id).collect();
        let transition = |i: usize| Transition { client_id: "dev".into(), status: events[i].0, at: events[i].1 };
        for i in 0..events.len() {
            let next_at = events.get(i + 1).map(|(_, at)| *at);
            let id = transition(i).event_id();
            if events[i].0 == Presence::Disconnected {
                let lasted = next_at.map(|next| next - events[i].1);
                // A connect shorter than the notifier's lag may go unseen; the outage after
                // it then continues the one already announced.
                let connect_seen = events[i].1 - events[i - 1].1 > KEPT_UP_MS;
                if connect_seen && lasted.is_none_or(|lasted| lasted > GRACE_MS + KEPT_UP_MS) {
                    prop_assert!(announced.contains(&id), "outage at {} not announced", events[i].1);
                }
                if lasted.is_some_and(|lasted| lasted < GRACE_MS) {
                    prop_assert!(!announced.contains(&id), "flap at {} announced", events[i].1);
                }
            } else {
                let before_announced = i == 0 || announced.contains(&transition(i - 1).event_id());
                let settled = next_at.is_none_or(|next| next - events[i].1 > KEPT_UP_MS);
                if before_announced && settled {
                    prop_assert!(announced.contains(&id), "return at {} not announced", events[i].1);
                }
            }
        }
    }
}
