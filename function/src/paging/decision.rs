//! What to send PagerDuty for one incident key, decided from the key's stored state as it
//! is now. Pure: [`crate::paging::store`] reads and writes the state, [`crate::paging::pager`]
//! posts.
//!
//! The guarantee: a resolve is posted only after its trigger's post has ended (accepted,
//! refused, or its sender's claim outlived the post's timeout), because one sender at a time
//! holds a key (its claim) and each post is of the latest wanted action. Announcements reach
//! the pager in any order; each is recorded only when its `sequence` is newer than the one
//! recorded, so a late trigger never replaces its device's resolve.

use std::fmt;

/// What PagerDuty is asked to do for an incident key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Trigger,
    Resolve,
}

impl Action {
    /// The Events API's `event_action`.
    pub fn event_action(self) -> &'static str {
        match self {
            Action::Trigger => "trigger",
            Action::Resolve => "resolve",
        }
    }

    pub fn parse(text: &str) -> Option<Action> {
        match text {
            "trigger" => Some(Action::Trigger),
            "resolve" => Some(Action::Resolve),
            _ => None,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.event_action())
    }
}

/// One incident key's stored state, as the decision needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyState {
    /// The latest wanted action and the announcement sequence that asked for it.
    pub wanted: Option<(Action, u64)>,
    /// The largest sequence settled: posted and answered, or decided needing no post.
    pub settled: Option<u64>,
    /// PagerDuty may hold an open alert for the key: set before a trigger is posted, cleared
    /// only when a resolve is accepted (or the trigger refused).
    pub maybe_open: bool,
    /// No post before then (epoch ms): a device trigger's hold (so a storm's page can take
    /// its place), a retry's backoff, or the rate budget's next free slot.
    pub not_before_ms: u64,
    /// The storm a `Fleet Connectivity Degraded` listed this device in, if any.
    pub storm: Option<String>,
    /// Whose claim the key is under, until when (epoch ms).
    pub claim: Option<(String, u64)>,
}

impl KeyState {
    /// Whether something is wanted that is not settled.
    pub fn owed(&self) -> bool {
        match self.wanted {
            Some((_, sequence)) => self.settled.is_none_or(|settled| settled < sequence),
            None => false,
        }
    }

    /// Whether another sender holds the key now.
    pub fn claimed_by_other(&self, me: &str, now_ms: u64) -> bool {
        matches!(&self.claim, Some((owner, until)) if owner != me && *until > now_ms)
    }
}

/// Why a wanted action needs no post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// A resolve for a key PagerDuty holds no alert for (its trigger was never sent).
    NothingOpen,
}

/// The next step for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing owed.
    Settled,
    /// Another sender holds the key; it looks again when its post ends.
    Claimed,
    /// Post this action for this sequence (after claiming the key).
    Post(Action, u64),
    /// Settle this sequence without posting.
    Skip(Skip, u64),
    /// Look again at this time (epoch ms): a held device trigger, or a device of a storm
    /// that is still open (the storm's own page stands for it).
    WaitUntil(u64),
    /// Look again when the storm this device is listed in ends.
    InStorm,
}

/// The storm a device is listed in, as its trigger waits for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storm {
    /// Listed in none (or the storm's key is gone).
    None,
    /// Its storm's page stands for it.
    Open,
    /// Its storm ended; until then (epoch ms) its own return may still be on its way.
    Ended { quiet_until_ms: u64 },
}

/// What to do for a key, given its state, the storm it is listed in, and the time.
pub fn next_step(state: &KeyState, storm: Storm, me: &str, now_ms: u64) -> Step {
    let Some((action, sequence)) = state.wanted else {
        return Step::Settled;
    };
    if !state.owed() {
        return Step::Settled;
    }
    if state.claimed_by_other(me, now_ms) {
        return Step::Claimed;
    }
    match action {
        Action::Resolve if !state.maybe_open => Step::Skip(Skip::NothingOpen, sequence),
        Action::Trigger if state.storm.is_some() && storm == Storm::Open => Step::InStorm,
        Action::Trigger if state.storm.is_some() => match storm {
            Storm::Ended { quiet_until_ms } if now_ms < quiet_until_ms => {
                Step::WaitUntil(quiet_until_ms.max(state.not_before_ms))
            }
            _ if now_ms < state.not_before_ms => Step::WaitUntil(state.not_before_ms),
            _ => Step::Post(action, sequence),
        },
        _ if now_ms < state.not_before_ms => Step::WaitUntil(state.not_before_ms),
        _ => Step::Post(action, sequence),
    }
}

/// Whether an announcement with `sequence` replaces what the key wants now: only a newer
/// one does (a duplicate or a late older one changes nothing).
pub fn supersedes(state: &KeyState, sequence: u64) -> bool {
    state.wanted.is_none_or(|(_, recorded)| recorded < sequence)
}

/// How PagerDuty answered a post, as the pager acts on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 202: accepted.
    Accepted,
    /// 400: refused for its content; retrying sends the same refusal.
    Refused(String),
    /// 429: not taken; post it again later.
    Throttled(String),
    /// 5xx, 408 or no answer: it may or may not have been taken; post it again later.
    Unknown(String),
}

impl Answer {
    pub fn of_status(status: u16, body: &str) -> Answer {
        match status {
            200..=299 => Answer::Accepted,
            429 => Answer::Throttled(format!("{status}: {body}")),
            408 | 500..=599 => Answer::Unknown(format!("{status}: {body}")),
            // Any other 4xx is the request's fault (400 is PagerDuty's only documented one).
            _ => Answer::Refused(format!("{status}: {body}")),
        }
    }
}

/// The state after a post of `action` for `sequence` was answered, from the state read
/// before the key was claimed.
pub fn after_answer(state: &KeyState, action: Action, sequence: u64, answer: &Answer) -> KeyState {
    let mut next = state.clone();
    next.claim = None;
    match (answer, action) {
        (Answer::Accepted, Action::Trigger) => {
            next.maybe_open = true;
            next.settled = Some(sequence);
        }
        (Answer::Accepted, Action::Resolve) => {
            next.maybe_open = false;
            next.settled = Some(sequence);
        }
        // A refused trigger opened nothing, but an alert an earlier trigger opened may still
        // be open; a refused resolve closed nothing.
        (Answer::Refused(_), _) => next.settled = Some(sequence),
        // A throttled post changed nothing.
        (Answer::Throttled(_), _) => {}
        // A 5xx may have been processed: an alert may be open.
        (Answer::Unknown(_), Action::Trigger) => next.maybe_open = true,
        (Answer::Unknown(_), Action::Resolve) => {}
    }
    next
}

/// The delay before a post that PagerDuty asked to retry is tried again: exponential from
/// 2 s, at most 5 minutes (PagerDuty's guidance: back off on 429 and 5xx).
pub fn retry_delay_ms(attempt: u32) -> u64 {
    (2_000u64 << attempt.min(8)).min(300_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanting(action: Action, sequence: u64) -> KeyState {
        KeyState {
            wanted: Some((action, sequence)),
            ..KeyState::default()
        }
    }

    #[test]
    fn a_resolve_with_no_trigger_sent_is_settled_without_a_post() {
        let state = wanting(Action::Resolve, 2);
        assert_eq!(
            next_step(&state, Storm::None, "me", 0),
            Step::Skip(Skip::NothingOpen, 2)
        );
    }

    #[test]
    fn a_resolve_after_a_trigger_is_posted() {
        let state = KeyState {
            maybe_open: true,
            settled: Some(1),
            ..wanting(Action::Resolve, 2)
        };
        assert_eq!(
            next_step(&state, Storm::None, "me", 0),
            Step::Post(Action::Resolve, 2)
        );
    }

    #[test]
    fn a_trigger_waits_for_its_hold_then_for_its_open_storm() {
        let mut state = KeyState {
            not_before_ms: 30_000,
            ..wanting(Action::Trigger, 1)
        };
        assert_eq!(
            next_step(&state, Storm::None, "me", 10_000),
            Step::WaitUntil(30_000)
        );
        assert_eq!(
            next_step(&state, Storm::None, "me", 30_000),
            Step::Post(Action::Trigger, 1)
        );
        state.storm = Some("s".into());
        assert_eq!(next_step(&state, Storm::Open, "me", 30_000), Step::InStorm);
        // Its storm ended: its own return may be on its way, so it waits a hold more.
        let ended = Storm::Ended {
            quiet_until_ms: 50_000,
        };
        assert_eq!(
            next_step(&state, ended, "me", 30_000),
            Step::WaitUntil(50_000)
        );
        assert_eq!(
            next_step(&state, ended, "me", 50_000),
            Step::Post(Action::Trigger, 1)
        );
        assert_eq!(
            next_step(&state, Storm::None, "me", 30_000),
            Step::Post(Action::Trigger, 1)
        );
    }

    #[test]
    fn a_key_under_another_live_claim_is_left_to_it() {
        let state = KeyState {
            claim: Some(("other".into(), 5_000)),
            ..wanting(Action::Trigger, 1)
        };
        assert_eq!(next_step(&state, Storm::None, "me", 4_999), Step::Claimed);
        assert_eq!(
            next_step(&state, Storm::None, "me", 5_000),
            Step::Post(Action::Trigger, 1)
        );
        assert_eq!(
            next_step(&state, Storm::None, "other", 0),
            Step::Post(Action::Trigger, 1)
        );
    }

    #[test]
    fn only_a_newer_sequence_supersedes() {
        let state = wanting(Action::Resolve, 5);
        assert!(!supersedes(&state, 4));
        assert!(!supersedes(&state, 5));
        assert!(supersedes(&state, 6));
        assert!(supersedes(&KeyState::default(), 1));
    }

    #[test]
    fn answers_are_read_from_the_status() {
        assert_eq!(Answer::of_status(202, ""), Answer::Accepted);
        assert!(matches!(Answer::of_status(429, ""), Answer::Throttled(_)));
        assert!(matches!(Answer::of_status(503, ""), Answer::Unknown(_)));
        assert!(matches!(Answer::of_status(400, "bad"), Answer::Refused(m) if m.contains("bad")));
    }

    #[test]
    fn retries_back_off_to_five_minutes() {
        assert_eq!(retry_delay_ms(0), 2_000);
        assert_eq!(retry_delay_ms(1), 4_000);
        assert_eq!(retry_delay_ms(20), 300_000);
    }
}
