//! Property tests of the pager's decision ([`iot_connectivity::paging::decision`]) over
//! generated histories of one incident key. A device goes down and comes back a few times;
//! its announcements (trigger on odd sequences, resolve on even ones) reach the pager in any
//! order and some twice; two senders look at the key at once, each look split into the
//! steps that other work interleaves with (read, claim, post, settle); PagerDuty answers
//! 202, 429 or 500, and a sender may crash before or after its post reached PagerDuty,
//! leaving its claim to the lease. The model applies each conditional write atomically,
//! with the conditions `paging::store` writes.
//!
//! Checked: PagerDuty never receives a trigger after a newer resolve; without a crash it
//! never receives a resolve while it holds no alert for the key (after one, the pager
//! resolves whatever its lost post may have opened); and at quiescence its alert is open
//! exactly when the newest announcement is a trigger, and nothing is owed.

use iot_connectivity::paging::decision::{
    after_answer, next_step, retry_delay_ms, supersedes, Action, Answer, KeyState, Step, Storm,
};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const LEASE_MS: u64 = 60_000;

#[derive(Default)]
struct PagerDuty {
    open: bool,
    /// Every event PagerDuty processed: action and sequence.
    received: Vec<(Action, u64)>,
    /// Resolves that found no open alert and had no accepted resolve just before them.
    overtaken: Vec<u64>,
    /// Triggers received after a resolve of a newer sequence.
    stale_triggers: Vec<u64>,
}

impl PagerDuty {
    fn receive(&mut self, action: Action, sequence: u64) {
        match action {
            Action::Trigger => {
                if self
                    .received
                    .iter()
                    .any(|(a, s)| *a == Action::Resolve && *s > sequence)
                {
                    self.stale_triggers.push(sequence);
                }
                self.open = true;
            }
            Action::Resolve => {
                let resent = matches!(self.received.last(), Some((Action::Resolve, _)));
                if !self.open && !resent {
                    self.overtaken.push(sequence);
                }
                self.open = false;
            }
        }
        self.received.push((action, sequence));
    }
}

/// Where one sender is in its look.
#[derive(Debug, Clone)]
enum Phase {
    Idle,
    Read(KeyState),
    Claimed(KeyState, Action, u64),
    /// PagerDuty answered; the settle is next.
    Answered(KeyState, Action, u64, Answer),
}

struct World {
    now: u64,
    state: KeyState,
    pd: PagerDuty,
    rng: StdRng,
    failure_rate: f64,
    crash_rate: f64,
    /// Posts whose fate is unknown (a crash, a 5xx): PagerDuty may or may not have them.
    crashes: u32,
    /// Posts PagerDuty refused (400): a refused trigger opens nothing.
    refusals: u32,
}

impl World {
    /// One step of sender `me`.
    fn step(&mut self, me: &str, phase: Phase, failing: bool) -> Phase {
        match phase {
            Phase::Idle => Phase::Read(self.state.clone()),
            Phase::Read(seen) => match next_step(&seen, Storm::None, me, self.now) {
                Step::Post(action, sequence) => {
                    // claim: still wanted, and no live claim but mine.
                    // The claim's condition: still wanted, not settled, no live claim but
                    // mine, and a resolve only while the key may be open.
                    let wanted = self.state.wanted.map(|(_, s)| s) == Some(sequence);
                    let unsettled = self.state.settled.is_none_or(|s| s < sequence);
                    let open_enough = action == Action::Trigger || self.state.maybe_open;
                    if wanted
                        && unsettled
                        && open_enough
                        && !self.state.claimed_by_other(me, self.now)
                    {
                        // What the claim's UPDATED_OLD returns.
                        let before = self.state.clone();
                        self.state.claim = Some((me.to_owned(), self.now + LEASE_MS));
                        if action == Action::Trigger {
                            self.state.maybe_open = true;
                        }
                        Phase::Claimed(before, action, sequence)
                    } else {
                        Phase::Idle
                    }
                }
                Step::Skip(_, sequence) => {
                    let wanted = self.state.wanted.map(|(_, s)| s) == Some(sequence);
                    let unclaimed = self
                        .state
                        .claim
                        .as_ref()
                        .is_none_or(|(_, until)| *until < self.now);
                    if wanted && unclaimed && !self.state.maybe_open {
                        self.state.settled = Some(sequence);
                        self.state.claim = None;
                    }
                    Phase::Idle
                }
                _ => Phase::Idle,
            },
            Phase::Claimed(seen, action, sequence) => {
                if self.rng.random_bool(self.crash_rate) {
                    // Crashed before the post: the claim waits out its lease.
                    self.crashes += 1;
                    return Phase::Idle;
                }
                let answer = if failing && self.rng.random_bool(self.failure_rate) {
                    match self.rng.random_range(0..5) {
                        0 | 1 => Answer::Throttled("429".into()),
                        2 | 3 => Answer::Unknown("500".into()),
                        // A refused resolve leaves its alert to the dead-letter queue's
                        // re-drive; refused triggers are what the order must survive.
                        _ if action == Action::Resolve => Answer::Throttled("429".into()),
                        _ => {
                            self.refusals += 1;
                            Answer::Refused("400".into())
                        }
                    }
                } else {
                    Answer::Accepted
                };
                if matches!(answer, Answer::Unknown(_)) {
                    // PagerDuty may have taken it before failing.
                    self.crashes += 1;
                    if self.rng.random_bool(0.5) {
                        self.pd.receive(action, sequence);
                    }
                }
                if answer == Answer::Accepted {
                    self.pd.receive(action, sequence);
                    if self.rng.random_bool(self.crash_rate) {
                        // Crashed after PagerDuty took it, before the settle.
                        self.crashes += 1;
                        return Phase::Idle;
                    }
                }
                Phase::Answered(seen, action, sequence, answer)
            }
            Phase::Answered(seen, action, sequence, answer) => {
                let mine = matches!(&self.state.claim, Some((owner, _)) if owner == me);
                if mine {
                    let after = after_answer(&seen, action, sequence, &answer);
                    match answer {
                        Answer::Throttled(_) => {
                            self.state.claim = None;
                            self.state.maybe_open = after.maybe_open;
                            self.state.not_before_ms = self.now + retry_delay_ms(0);
                        }
                        // The post may still be on its way: the claim runs out its lease.
                        Answer::Unknown(_) => {}
                        _ => {
                            self.state.settled = Some(sequence);
                            self.state.maybe_open = after.maybe_open;
                            self.state.claim = None;
                        }
                    }
                }
                Phase::Idle
            }
        }
    }
}

fn check(seed: u64, flaps: u64, duplicate_rate: f64, failure_rate: f64, crash_rate: f64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let announcements = 2 * flaps - u64::from(rng.random_bool(0.5));
    // Odd sequences are Device Disconnected (trigger), even ones Device Connected.
    let mut deliveries: Vec<u64> = (1..=announcements).collect();
    for sequence in 1..=announcements {
        if rng.random_bool(duplicate_rate) {
            deliveries.push(sequence);
        }
    }
    // EventBridge and SQS keep no order.
    for i in (1..deliveries.len()).rev() {
        deliveries.swap(i, rng.random_range(0..=i));
    }
    let mut world = World {
        now: 0,
        state: KeyState::default(),
        pd: PagerDuty::default(),
        rng: StdRng::seed_from_u64(seed ^ 0x5eed),
        failure_rate,
        crash_rate,
        crashes: 0,
        refusals: 0,
    };
    let mut senders = [Phase::Idle, Phase::Idle];
    let mut pending = deliveries.into_iter();
    let mut steps = 0;
    // Faults while announcements arrive; then none, and time runs on until all is settled.
    loop {
        steps += 1;
        let failing = steps < 400;
        world.now += world.rng.random_range(0..3_000);
        let choice = world.rng.random_range(0..4);
        if choice == 0 {
            if let Some(sequence) = pending.next() {
                let action = if sequence % 2 == 1 {
                    Action::Trigger
                } else {
                    Action::Resolve
                };
                if supersedes(&world.state, sequence) {
                    world.state.wanted = Some((action, sequence));
                    world.state.not_before_ms = world.now;
                }
                continue;
            }
        }
        let me = usize::from(choice % 2 == 1);
        let name = ["a", "b"][me];
        let phase = std::mem::replace(&mut senders[me], Phase::Idle);
        senders[me] = world.step(name, phase, failing);
        let quiet = pending.len() == 0
            && senders.iter().all(|p| matches!(p, Phase::Idle))
            && !world.state.owed()
            && !failing;
        if quiet || steps > 20_000 {
            break;
        }
    }
    let newest = world.state.wanted.expect("announcements were recorded");
    assert_eq!(
        newest.1, announcements,
        "the newest announcement is what is wanted"
    );
    assert!(
        !world.state.owed(),
        "nothing owed at quiescence: {:?}",
        world.state
    );
    // After a crash or a 5xx the pager cannot know whether its trigger was taken, so it
    // resolves anyway; PagerDuty drops a resolve with no alert, which is harmless. Without
    // one, no resolve may reach PagerDuty before its trigger.
    assert!(
        world.crashes > 0 || world.pd.overtaken.is_empty(),
        "resolves reached PagerDuty before their triggers: {:?} (log {:?})",
        world.pd.overtaken,
        world.pd.received
    );
    assert!(
        world.pd.stale_triggers.is_empty(),
        "triggers after newer resolves: {:?} (log {:?})",
        world.pd.stale_triggers,
        world.pd.received
    );
    // A refused trigger opens nothing, so only a device that is back must be closed
    // whatever was refused.
    if newest.0 == Action::Resolve || world.refusals == 0 {
        assert_eq!(
            world.pd.open,
            newest.0 == Action::Trigger,
            "PagerDuty's alert is open exactly when the device is down (log {:?})",
            world.pd.received
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn a_resolve_never_overtakes_its_trigger(
        seed in any::<u64>(),
        flaps in 1u64..5,
        duplicate_rate in 0.0f64..0.5,
        failure_rate in 0.0f64..0.6,
        crash_rate in 0.0f64..0.1,
    ) {
        check(seed, flaps, duplicate_rate, failure_rate, crash_rate);
    }
}
