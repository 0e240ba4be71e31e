//! Property tests of storm digests ([`iot_connectivity::announcements::storm`]) over
//! generated fleets. Devices of a few groups go down and come back, in bursts and one by
//! one, in any order; each device's Disconnected look (join its group, read the head, decide,
//! claim, put, confirm) and the reconciler's passes are steps that other work interleaves
//! with, and each step after the claim may fail (a put refused and released, a crash that
//! leaves the claim to its lease). The model applies each conditional write atomically, with
//! the conditions `fleet_store` writes.
//!
//! At quiescence (failures over, every device back, time past the lease and the window,
//! reconcile passes), per group the fleet announcements alternate Degraded, Restored in
//! sequence order, each Restored closing the Degraded's storm; every `stormId` a device
//! announcement carried was announced Degraded; nothing is pending and no member is left;
//! and a group of which `threshold` devices dropped at once had a storm.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use iot_connectivity::announcements::decision::PENDING_LEASE_MS;
use iot_connectivity::announcements::storm::{
    decide, stale, FleetAnnouncement, FleetState, Head, Member, StormConfig, StormVerdict,
};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const GROUPS: [&str; 3] = ["lobby", "yard", "roof"];
const RECONCILE_MS: i64 = 60_000;

/// One put of a fleet announcement.
#[derive(Debug, Clone)]
struct FleetPut {
    state: FleetState,
    storm_id: String,
    sequence: u64,
}

#[derive(Default)]
struct World {
    now: i64,
    heads: HashMap<String, (Head, Option<FleetAnnouncement>)>,
    members: HashMap<String, BTreeMap<String, i64>>,
    /// Every fleet announcement put, per group, in put order.
    fleet_puts: HashMap<String, Vec<FleetPut>>,
    /// The storm ids device announcements carried.
    device_storms: BTreeSet<String>,
    /// Devices back and announced Connected (the status table, as the reconciler reads it).
    up: BTreeSet<String>,
    next_token: u64,
}

impl World {
    fn head(&self, group: &str) -> Head {
        self.heads
            .get(group)
            .map(|(h, _)| h.clone())
            .unwrap_or_default()
    }

    fn members(&self, group: &str) -> Vec<Member> {
        self.members
            .get(group)
            .map(|m| {
                m.iter()
                    .map(|(client_id, down_at)| Member {
                        client_id: client_id.clone(),
                        down_at: *down_at,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn token(&mut self) -> String {
        self.next_token += 1;
        self.next_token.to_string()
    }

    // The fleet store's conditional writes.

    fn join(&mut self, group: &str, client: &str) {
        let now = self.now;
        let members = self.members.entry(group.into()).or_default();
        if members.get(client).is_none_or(|&at| at < now) {
            members.insert(client.into(), now);
        }
    }

    fn leave(&mut self, group: &str, client: &str, down_at: Option<i64>) {
        let members = self.members.entry(group.into()).or_default();
        if down_at.is_none() || members.get(client) == down_at.as_ref() {
            members.remove(client);
        }
    }

    fn claim(
        &mut self,
        group: &str,
        seen: &Head,
        announcement: &FleetAnnouncement,
        token: &str,
    ) -> bool {
        let now = self.now;
        let (head, detail) = self.heads.entry(group.into()).or_default();
        if head.pending || head.sequence != seen.sequence {
            return false;
        }
        *head = Head {
            state: Some(announcement.state),
            storm_id: Some(announcement.storm_id.clone()),
            since: Some(announcement.since),
            sequence: Some(announcement.sequence),
            pending: true,
            claimed_at: Some(now),
            claim: Some(token.into()),
            peak: announcement.peak,
        };
        *detail = Some(announcement.clone());
        true
    }

    fn resume(&mut self, group: &str, seen: &Head, token: &str) -> bool {
        let now = self.now;
        let (head, _) = self.heads.entry(group.into()).or_default();
        if !head.pending || head.claimed_at != seen.claimed_at {
            return false;
        }
        head.claimed_at = Some(now);
        head.claim = Some(token.into());
        true
    }

    fn confirm(&mut self, group: &str, token: &str) {
        let (head, _) = self.heads.entry(group.into()).or_default();
        if head.claim.as_deref() == Some(token) {
            head.pending = false;
            head.claim = None;
        }
    }

    fn release(&mut self, group: &str, token: &str) {
        let (head, _) = self.heads.entry(group.into()).or_default();
        if head.claim.as_deref() == Some(token) {
            head.claim = None;
        }
    }

    fn put(&mut self, group: &str, announcement: &FleetAnnouncement) {
        self.fleet_puts
            .entry(group.into())
            .or_default()
            .push(FleetPut {
                state: announcement.state,
                storm_id: announcement.storm_id.clone(),
                sequence: announcement.sequence,
            });
    }
}

/// A fleet announcement in flight: claimed, to put, to confirm.
#[derive(Debug, Clone)]
enum Step {
    /// A device's Disconnected look: join, then decide.
    Join {
        group: String,
        client: String,
    },
    Decide {
        group: String,
        client: Option<String>,
    },
    Put {
        group: String,
        token: String,
        announcement: FleetAnnouncement,
    },
    Confirm {
        group: String,
        token: String,
    },
    /// The device's announcement, with the storm of its group if one is open.
    Announce {
        group: String,
    },
    Return {
        group: String,
        client: String,
    },
}

struct Run<'a> {
    config: &'a StormConfig,
    world: World,
    failures: bool,
    rng: StdRng,
}

impl Run<'_> {
    /// Does one step; what it leads to comes back as the next steps of the same look.
    fn step(&mut self, step: Step) -> Vec<Step> {
        let fail = |rng: &mut StdRng, failures| failures && rng.random_bool(0.15);
        match step {
            Step::Join { group, client } => {
                self.world.join(&group, &client);
                vec![Step::Decide {
                    group,
                    client: Some(client),
                }]
            }
            Step::Decide { group, client } => {
                let head = self.world.head(&group);
                let members = self.world.members(&group);
                if client.is_none() {
                    for m in stale(self.config, &head, &members, self.world.now) {
                        self.world.leave(&group, &m.client_id, Some(m.down_at));
                    }
                    // Members whose device is back: a return that raced its own join.
                    for m in &members {
                        if self.world.up.contains(&m.client_id) {
                            self.world.leave(&group, &m.client_id, Some(m.down_at));
                        }
                    }
                }
                let members = self.world.members(&group);
                let open = head.state == Some(FleetState::Degraded);
                if client.is_some() && open {
                    return vec![Step::Announce { group }];
                }
                let token = self.world.token();
                let next = match decide(self.config, &group, &head, &members, self.world.now) {
                    StormVerdict::Announce(announcement) => {
                        if self.world.claim(&group, &head, &announcement, &token) {
                            vec![Step::Put {
                                group: group.clone(),
                                token,
                                announcement,
                            }]
                        } else {
                            vec![]
                        }
                    }
                    StormVerdict::ResumePending => {
                        let stored = self.world.heads.get(&group).and_then(|(_, d)| d.clone());
                        match stored {
                            Some(announcement) if self.world.resume(&group, &head, &token) => {
                                vec![Step::Put {
                                    group: group.clone(),
                                    token,
                                    announcement,
                                }]
                            }
                            _ => vec![],
                        }
                    }
                    _ => vec![],
                };
                // A device's look announces after its group was decided (re-read).
                match client {
                    Some(_) => next.into_iter().chain([Step::Announce { group }]).collect(),
                    None => next,
                }
            }
            Step::Put {
                group,
                token,
                announcement,
            } => {
                if fail(&mut self.rng, self.failures) {
                    // Refused: released; or the look crashed: its claim waits out the lease.
                    if self.rng.random_bool(0.5) {
                        self.world.release(&group, &token);
                    }
                    return vec![];
                }
                self.world.put(&group, &announcement);
                vec![Step::Confirm { group, token }]
            }
            Step::Confirm { group, token } => {
                if !fail(&mut self.rng, self.failures) {
                    self.world.confirm(&group, &token);
                }
                vec![]
            }
            Step::Announce { group } => {
                let head = self.world.head(&group);
                if head.state == Some(FleetState::Degraded) {
                    self.world.device_storms.insert(head.storm_id.unwrap());
                }
                vec![]
            }
            Step::Return { group, client } => {
                self.world.up.insert(client.clone());
                self.world.leave(&group, &client, None);
                vec![]
            }
        }
    }

    /// Runs `looks` with their steps interleaved at random, time moving on.
    fn interleave(&mut self, looks: Vec<Vec<Step>>) {
        let mut pending: Vec<Vec<Step>> = looks.into_iter().filter(|l| !l.is_empty()).collect();
        while !pending.is_empty() {
            let i = self.rng.random_range(0..pending.len());
            let step = pending[i].remove(0);
            let next = self.step(step);
            pending[i].splice(0..0, next);
            if pending[i].is_empty() {
                pending.swap_remove(i);
            }
            self.world.now += self.rng.random_range(0..400);
        }
    }

    fn reconcile(&mut self) {
        let looks = GROUPS
            .iter()
            .map(|g| {
                vec![Step::Decide {
                    group: (*g).into(),
                    client: None,
                }]
            })
            .collect();
        self.interleave(looks);
    }
}

/// A generated history: bursts of one group's devices going down, each device coming back
/// after a while, with reconcile passes between.
fn run(seed: u64, threshold: usize, per_group: usize, bursts: usize) -> Result<(), TestCaseError> {
    let config = StormConfig::parse(&format!(
        r#"{{"threshold": {threshold}, "window_seconds": 120, "group_by": "thing_group"}}"#
    ))
    .unwrap();
    let mut run = Run {
        config: &config,
        world: World {
            now: 1_700_000_000_000,
            ..World::default()
        },
        failures: true,
        rng: StdRng::seed_from_u64(seed),
    };
    let mut down: BTreeMap<String, String> = BTreeMap::new();
    let mut stormy = BTreeSet::new();
    for _ in 0..bursts {
        let group = GROUPS[run.rng.random_range(0..GROUPS.len())].to_owned();
        let size = run.rng.random_range(1..=per_group);
        let mut looks = Vec::new();
        // Some of the fleet down before this burst returns meanwhile, in any order.
        let earlier = down.clone();
        let mut dropped = 0;
        for i in 0..size {
            let client = format!("{group}-{i}");
            if down.insert(client.clone(), group.clone()).is_none() {
                run.world.up.remove(&client);
                dropped += 1;
                looks.push(vec![Step::Join {
                    group: group.clone(),
                    client,
                }]);
            }
        }
        for (client, group) in earlier {
            if run.rng.random_bool(0.3) {
                down.remove(&client);
                looks.push(vec![Step::Return { group, client }]);
            }
        }
        if dropped >= threshold {
            stormy.insert(group);
        }
        run.interleave(looks);
        run.world.now += run.rng.random_range(0..RECONCILE_MS);
        if run.rng.random_bool(0.5) {
            run.reconcile();
        }
    }
    // Quiescence: failures over, everyone back, past the lease and the window.
    run.failures = false;
    let returns = down
        .into_iter()
        .map(|(client, group)| vec![Step::Return { group, client }])
        .collect();
    run.interleave(returns);
    for _ in 0..3 {
        run.world.now += PENDING_LEASE_MS + config.window_ms;
        run.reconcile();
    }

    let world = &run.world;
    for group in GROUPS {
        let head = world.head(group);
        prop_assert!(
            !head.pending,
            "{group}: a fleet announcement left pending: {head:?}"
        );
        prop_assert!(world.members(group).is_empty(), "{group}: members left");
        // Re-puts carry the same sequence: one per sequence, in sequence order.
        let mut by_sequence: BTreeMap<u64, &FleetPut> = BTreeMap::new();
        for put in world.fleet_puts.get(group).into_iter().flatten() {
            if let Some(earlier) = by_sequence.insert(put.sequence, put) {
                prop_assert_eq!(earlier.state, put.state, "one sequence, one announcement");
                prop_assert_eq!(&earlier.storm_id, &put.storm_id);
            }
        }
        let puts: Vec<&&FleetPut> = by_sequence.values().collect();
        for (i, put) in puts.iter().enumerate() {
            let expected = if i % 2 == 0 {
                FleetState::Degraded
            } else {
                FleetState::Restored
            };
            prop_assert_eq!(
                put.state,
                expected,
                "{}: not alternating: {:?}",
                group,
                puts
            );
            if put.state == FleetState::Restored {
                prop_assert_eq!(
                    &put.storm_id,
                    &puts[i - 1].storm_id,
                    "a Restored closes its storm"
                );
            }
        }
        prop_assert!(
            puts.last().is_none_or(|p| p.state == FleetState::Restored),
            "{group}: a storm still open with everyone back: {puts:?}"
        );
        if stormy.contains(group) {
            prop_assert!(
                !puts.is_empty(),
                "{group}: {threshold} dropped at once, no storm"
            );
        }
    }
    let degraded: BTreeSet<&String> = world
        .fleet_puts
        .values()
        .flatten()
        .filter(|p| p.state == FleetState::Degraded)
        .map(|p| &p.storm_id)
        .collect();
    for storm_id in &world.device_storms {
        prop_assert!(
            degraded.contains(storm_id),
            "a device names storm {storm_id}, never announced"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn fleet_announcements_alternate_and_every_storm_named_is_announced(
        seed in any::<u64>(),
        threshold in 2usize..8,
        per_group in 1usize..14,
        bursts in 1usize..12,
    ) {
        run(seed, threshold, per_group, bursts)?;
    }
}
