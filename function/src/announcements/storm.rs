//! Storm digests: when at least `threshold` devices of one group are announced
//! Disconnected within `window_seconds`, one `Fleet Connectivity Degraded`; when the
//! storm's devices are back below half the threshold, one `Fleet Connectivity Restored`
//! with the same `stormId`. Pure: no I/O.
//!
//! Decided from stored state, like device announcements: each group has a head (its storm
//! state and its last fleet announcement, claimed, put, confirmed) and one member per
//! device whose disconnect is being or was announced and has not been announced back
//! ([`crate::announcements::fleet_store`]). A device's Disconnected look writes its member
//! before it claims its own announcement, and asks [`decide`] whether that opens a storm;
//! its return removes the member; the reconciler's pass asks [`decide`] of every group, so
//! a lost signal, a failed put or a crash is settled within one pass. Per group, Degraded
//! and Restored alternate: a fleet announcement is claimed only while none is pending and
//! the head says the other state, each with a larger `sequence`.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::announcements::decision::{next_sequence, uuid_shaped, PENDING_LEASE_MS};
use crate::announcements::thing::GroupBy;

/// `detail.clientIds` lists at most this many devices.
pub const MAX_LISTED_CLIENTS: usize = 100;

pub const DEGRADED: &str = "Fleet Connectivity Degraded";
pub const RESTORED: &str = "Fleet Connectivity Restored";

/// How long past its due time a device's Disconnected waits for its storm group to be
/// readable: a fleet table that throttles or times out during a storm (every look of the
/// group writes one partition) would otherwise page the device alone. Past it, the device
/// is announced on its own rather than not at all.
pub const STORM_READ_HOLD_MS: i64 = 120_000;

/// `storm_digest`, as the module passes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StormConfig {
    pub threshold: usize,
    pub window_ms: i64,
    pub group_by: GroupBy,
}

#[derive(Deserialize)]
struct StormDigest {
    threshold: usize,
    window_seconds: i64,
    group_by: String,
}

impl StormConfig {
    /// From the JSON of the Terraform value.
    pub fn parse(json: &str) -> Result<Self, String> {
        let digest: StormDigest =
            serde_json::from_str(json).map_err(|err| format!("not a storm digest: {err}"))?;
        let group_by = GroupBy::parse(&digest.group_by)
            .ok_or_else(|| format!("group_by {:?} is not known", digest.group_by))?;
        if digest.threshold < 2 || digest.window_seconds < 1 {
            return Err("threshold must be at least 2 and window_seconds positive".into());
        }
        Ok(Self {
            threshold: digest.threshold,
            window_ms: digest.window_seconds * 1000,
            group_by,
        })
    }

    /// A storm ends once fewer than this many of its devices are still down.
    pub fn restored_below(&self) -> usize {
        self.threshold.div_ceil(2)
    }
}

/// The head's storm state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FleetState {
    Degraded,
    Restored,
}

impl FleetState {
    pub fn name(self) -> &'static str {
        match self {
            FleetState::Degraded => "Degraded",
            FleetState::Restored => "Restored",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "Degraded" => Some(FleetState::Degraded),
            "Restored" => Some(FleetState::Restored),
            _ => None,
        }
    }
}

/// What the fleet table holds about one group's storms.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Head {
    /// None: the group never had a storm.
    pub state: Option<FleetState>,
    pub storm_id: Option<String>,
    /// The oldest disconnect (ms) that opened the current (or last) storm.
    pub since: Option<i64>,
    pub sequence: Option<u64>,
    /// The newest fleet announcement is claimed but not confirmed as put.
    pub pending: bool,
    /// Wall-clock ms of that claim, and who holds it (None: released).
    pub claimed_at: Option<i64>,
    pub claim: Option<String>,
    /// The most devices seen down at once in the current (or last) storm.
    pub peak: u64,
}

/// A device whose disconnect is (being) announced and not yet announced back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub client_id: String,
    /// Wall-clock ms at which its Disconnected was decided.
    pub down_at: i64,
}

/// A fleet announcement to claim on the head.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetAnnouncement {
    pub state: FleetState,
    pub storm_id: String,
    pub sequence: u64,
    /// On a Degraded, when the storm started; on a Restored, the storm's start as stored.
    pub since: i64,
    pub peak: u64,
    pub detail: Value,
}

impl FleetAnnouncement {
    pub fn detail_type(&self) -> &'static str {
        match self.state {
            FleetState::Degraded => DEGRADED,
            FleetState::Restored => RESTORED,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum StormVerdict {
    /// The pending fleet announcement's claim was released or outlived its lease: take it
    /// over and put it again (its own eventId and sequence).
    ResumePending,
    /// Another look holds the pending fleet announcement's claim.
    ClaimedElsewhere,
    /// Claim this one, put it, confirm it.
    Announce(FleetAnnouncement),
    /// Nothing to announce; `peak` is larger than stored while a storm is open.
    Quiet { peak: Option<u64> },
}

/// The storm id of the group's storm opened at `sequence`: one per storm, the same for
/// every look that decides it.
pub fn storm_id(group_key: &str, sequence: u64) -> String {
    uuid_shaped(&format!("storm\n{group_key}\n{sequence}"))
}

/// The head's key for a group: `storm#<groupBy>#<group>`.
pub fn group_key(config: &StormConfig, group: &str) -> String {
    format!("storm#{}#{group}", config.group_by.label())
}

/// What a group owes, from its head and every member, at `now_ms`. `group` is the group's
/// name as announced.
pub fn decide(
    config: &StormConfig,
    group: &str,
    head: &Head,
    members: &[Member],
    now_ms: i64,
) -> StormVerdict {
    if head.pending {
        let released = head.claim.is_none();
        let expired = now_ms >= head.claimed_at.unwrap_or(0) + PENDING_LEASE_MS;
        return if released || expired {
            StormVerdict::ResumePending
        } else {
            StormVerdict::ClaimedElsewhere
        };
    }
    let key = group_key(config, group);
    match head.state {
        Some(FleetState::Degraded) => {
            let since = head.since.unwrap_or(0);
            let down = members.iter().filter(|m| m.down_at >= since).count();
            if down >= config.restored_below() {
                let peak = (down as u64 > head.peak).then_some(down as u64);
                return StormVerdict::Quiet { peak };
            }
            let storm_id = head.storm_id.clone().unwrap_or_default();
            let sequence = next_sequence(head.sequence, now_ms);
            StormVerdict::Announce(FleetAnnouncement {
                state: FleetState::Restored,
                detail: json!({
                    "version": crate::announcements::detail::DETAIL_VERSION,
                    "eventId": uuid_shaped(&format!("{storm_id}\nRestored")),
                    "stormId": storm_id,
                    "groupBy": config.group_by.label(),
                    "group": group,
                    "sequence": sequence,
                    "disconnectedCount": down,
                    "clientIds": listed(members.iter().filter(|m| m.down_at >= since)),
                    "since": since,
                    "restoredAt": now_ms,
                    "durationMs": (now_ms - since).max(0),
                    "peakCount": head.peak.max(down as u64),
                }),
                storm_id,
                sequence,
                since,
                peak: head.peak.max(down as u64),
            })
        }
        _ => {
            let recent: Vec<&Member> = members
                .iter()
                .filter(|m| m.down_at >= now_ms - config.window_ms)
                .collect();
            if recent.len() < config.threshold {
                return StormVerdict::Quiet { peak: None };
            }
            let sequence = next_sequence(head.sequence, now_ms);
            let storm_id = storm_id(&key, sequence);
            let since = recent.iter().map(|m| m.down_at).min().unwrap_or(now_ms);
            StormVerdict::Announce(FleetAnnouncement {
                state: FleetState::Degraded,
                detail: json!({
                    "version": crate::announcements::detail::DETAIL_VERSION,
                    "eventId": uuid_shaped(&format!("{storm_id}\nDegraded")),
                    "stormId": storm_id,
                    "groupBy": config.group_by.label(),
                    "group": group,
                    "sequence": sequence,
                    "disconnectedCount": recent.len(),
                    "clientIds": listed(recent.iter().copied()),
                    "since": since,
                }),
                storm_id,
                sequence,
                since,
                peak: recent.len() as u64,
            })
        }
    }
}

/// Whether a Disconnected due at `due_at_ms` whose storm group could not be read is left to
/// a later look (true) or announced now, on its own (false).
pub fn waits_for_storm(due_at_ms: i64, now_ms: i64) -> bool {
    now_ms < due_at_ms.saturating_add(STORM_READ_HOLD_MS)
}

/// Members no storm can count any more: down before the window, and before the open
/// storm's start (if one is open). Removing them keeps a group's reads small.
pub fn stale<'a>(
    config: &StormConfig,
    head: &Head,
    members: &'a [Member],
    now_ms: i64,
) -> Vec<&'a Member> {
    let open_since =
        (head.state == Some(FleetState::Degraded) || head.pending).then(|| head.since.unwrap_or(0));
    members
        .iter()
        .filter(|m| m.down_at < now_ms - config.window_ms)
        .filter(|m| open_since.is_none_or(|since| m.down_at < since))
        .collect()
}

/// The first devices of a storm, by when they went down.
fn listed<'a>(members: impl Iterator<Item = &'a Member>) -> Vec<&'a str> {
    let mut members: Vec<&Member> = members.collect();
    members.sort_by(|a, b| (a.down_at, &a.client_id).cmp(&(b.down_at, &b.client_id)));
    members
        .into_iter()
        .take(MAX_LISTED_CLIENTS)
        .map(|m| m.client_id.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> StormConfig {
        StormConfig::parse(r#"{"threshold": 4, "window_seconds": 60, "group_by": "thing_group"}"#)
            .unwrap()
    }

    #[test]
    fn an_unreadable_storm_holds_a_disconnect_for_a_while_then_lets_it_go_alone() {
        let due = 1_000_000;
        assert!(waits_for_storm(due, due));
        assert!(waits_for_storm(due, due + STORM_READ_HOLD_MS - 1));
        assert!(!waits_for_storm(due, due + STORM_READ_HOLD_MS));
        assert!(!waits_for_storm(i64::MAX, i64::MAX), "no overflow");
    }

    fn members(count: usize, down_at: i64) -> Vec<Member> {
        (0..count)
            .map(|i| Member {
                client_id: format!("d{i:03}"),
                down_at: down_at + i as i64,
            })
            .collect()
    }

    #[test]
    fn a_storm_opens_at_the_threshold_within_the_window() {
        let head = Head::default();
        assert_eq!(
            decide(&config(), "g", &head, &members(3, 1_000), 2_000),
            StormVerdict::Quiet { peak: None }
        );
        let StormVerdict::Announce(degraded) =
            decide(&config(), "g", &head, &members(4, 1_000), 2_000)
        else {
            panic!("a storm opens");
        };
        assert_eq!(degraded.state, FleetState::Degraded);
        assert_eq!(degraded.detail["disconnectedCount"], 4);
        assert_eq!(degraded.detail["since"], 1_000);
        assert_eq!(degraded.detail["groupBy"], "thing_group");
        assert_eq!(
            degraded.storm_id,
            storm_id("storm#thing_group#g", degraded.sequence)
        );
        // Out of the window: no storm.
        assert_eq!(
            decide(&config(), "g", &head, &members(4, 1_000), 70_000),
            StormVerdict::Quiet { peak: None }
        );
    }

    #[test]
    fn a_storm_is_restored_below_half_its_threshold() {
        let head = Head {
            state: Some(FleetState::Degraded),
            storm_id: Some("s".into()),
            since: Some(1_000),
            sequence: Some(5),
            peak: 4,
            ..Head::default()
        };
        assert_eq!(
            decide(&config(), "g", &head, &members(2, 1_000), 9_000),
            StormVerdict::Quiet { peak: None }
        );
        assert_eq!(
            decide(&config(), "g", &head, &members(6, 1_000), 9_000),
            StormVerdict::Quiet { peak: Some(6) }
        );
        // A device down before the storm is not the storm's.
        let mut before = members(1, 1_000);
        before.push(Member {
            client_id: "old".into(),
            down_at: 10,
        });
        let StormVerdict::Announce(restored) = decide(&config(), "g", &head, &before, 9_000) else {
            panic!("restored");
        };
        assert_eq!(restored.state, FleetState::Restored);
        assert_eq!(restored.storm_id, "s");
        assert_eq!(restored.detail["disconnectedCount"], 1);
        assert_eq!(restored.detail["durationMs"], 8_000);
        assert!(restored.sequence > 5);
        assert_eq!(stale(&config(), &head, &before, 90_000).len(), 1);
    }

    #[test]
    fn a_pending_fleet_announcement_goes_first() {
        let head = Head {
            pending: true,
            claimed_at: Some(1_000),
            claim: Some("t".into()),
            ..Head::default()
        };
        assert_eq!(
            decide(&config(), "g", &head, &members(9, 1_000), 2_000),
            StormVerdict::ClaimedElsewhere
        );
        assert_eq!(
            decide(&config(), "g", &head, &[], 1_000 + PENDING_LEASE_MS),
            StormVerdict::ResumePending
        );
        let released = Head {
            claim: None,
            ..head
        };
        assert_eq!(
            decide(&config(), "g", &released, &[], 2_000),
            StormVerdict::ResumePending
        );
    }

    #[test]
    fn the_list_of_devices_is_capped() {
        let StormVerdict::Announce(degraded) = decide(
            &config(),
            "g",
            &Head::default(),
            &members(150, 1_000),
            2_000,
        ) else {
            panic!("a storm opens");
        };
        assert_eq!(
            degraded.detail["clientIds"].as_array().unwrap().len(),
            MAX_LISTED_CLIENTS
        );
        assert_eq!(degraded.detail["clientIds"][0], "d000");
        assert!(StormConfig::parse(
            r#"{"threshold": 1, "window_seconds": 60, "group_by": "fleet"}"#
        )
        .is_err());
    }
}
