//! Unit tests of [`super`].
use super::*;

const GRACE: i64 = 60_000;

fn transition(status: Presence, at: i64) -> Transition {
    Transition {
        client_id: "dev".into(),
        status,
        at,
        created: 0,
    }
}

fn item(status: Presence, announced: Option<(Presence, bool)>) -> Snapshot {
    Snapshot {
        status: Some(status),
        connect_time: Some(10),
        disconnect_time: Some(20),
        disconnect_recorded_at: Some(1_000),
        announced: announced.map(|(status, pending)| Announced {
            status,
            event_id: transition(status, 1).event_id(),
            pending,
        }),
        announced_at: Some(0),
        claim: announced.and_then(|(_, pending)| pending.then(|| "other look".to_owned())),
        revision: Some(3),
        owed: true,
        sequence: Some(7),
        created: None,
    }
}

#[test]
fn event_ids_name_transitions() {
    let a = transition(Presence::Disconnected, 5).event_id();
    assert_eq!(a, transition(Presence::Disconnected, 5).event_id());
    assert_ne!(a, transition(Presence::Disconnected, 6).event_id());
    assert_ne!(a, transition(Presence::Connected, 5).event_id());
    assert_eq!(a.len(), 36);
}

#[test]
fn connects_are_announced_at_once_unless_already_said() {
    let first = item(Presence::Connected, None);
    assert_eq!(
        look("dev", &first, GRACE, 0, None),
        Verdict::Announce(transition(Presence::Connected, 10))
    );
    let returned = item(Presence::Connected, Some((Presence::Disconnected, false)));
    assert_eq!(
        look("dev", &returned, GRACE, 0, None),
        Verdict::Announce(transition(Presence::Connected, 10))
    );
    let flapped = item(Presence::Connected, Some((Presence::Connected, false)));
    assert_eq!(look("dev", &flapped, GRACE, 0, None), Verdict::Settled);
}

#[test]
fn disconnects_wait_out_the_grace_period_from_when_they_were_recorded() {
    let dropped = item(Presence::Disconnected, Some((Presence::Connected, false)));
    assert_eq!(
        look("dev", &dropped, GRACE, 1_000 + GRACE - 1, None),
        Verdict::WaitUntil {
            transition: transition(Presence::Disconnected, 20),
            due_at: 1_000 + GRACE
        }
    );
    assert_eq!(
        look("dev", &dropped, GRACE, 1_000 + GRACE, None),
        Verdict::Announce(transition(Presence::Disconnected, 20))
    );
    let never_online = item(Presence::Disconnected, None);
    assert_eq!(
        look("dev", &never_online, GRACE, i64::MAX, None),
        Verdict::Settled
    );
}

#[test]
fn a_pending_announcement_goes_first_even_after_the_table_moved_on() {
    let pending = item(Presence::Connected, Some((Presence::Disconnected, true)));
    assert_eq!(
        look("dev", &pending, GRACE, PENDING_LEASE_MS - 1, None),
        Verdict::ClaimedElsewhere,
        "its claimer is still at it"
    );
    assert_eq!(
        look("dev", &pending, GRACE, PENDING_LEASE_MS, None),
        Verdict::ResumePending
    );
    let reconnect = transition(Presence::Connected, 10);
    assert!(!claimable(
        &pending,
        &reconnect,
        Some(3),
        Some(7),
        "this look"
    ));
}

#[test]
fn a_claim_needs_the_revision_it_was_decided_on() {
    let returned = item(Presence::Connected, Some((Presence::Disconnected, false)));
    let reconnect = transition(Presence::Connected, 10);
    assert!(claimable(
        &returned,
        &reconnect,
        Some(3),
        Some(7),
        "this look"
    ));
    assert!(!claimable(
        &returned,
        &reconnect,
        Some(2),
        Some(7),
        "this look"
    ));
    let said = item(Presence::Connected, Some((Presence::Connected, false)));
    assert!(
        !claimable(&said, &reconnect, Some(3), Some(7), "this look"),
        "alternation"
    );
}

#[test]
fn a_claim_written_twice_by_its_look_is_still_that_looks() {
    let reconnect = transition(Presence::Connected, 10);
    let mut landed = item(Presence::Connected, Some((Presence::Connected, true)));
    landed.claim = Some("this look".into());
    landed.announced.as_mut().unwrap().event_id = reconnect.event_id();
    assert!(claimable(
        &landed,
        &reconnect,
        Some(3),
        Some(7),
        "this look"
    ));
    assert!(!claimable(
        &landed,
        &reconnect,
        Some(3),
        Some(7),
        "another look"
    ));
}

#[test]
fn a_claim_needs_the_sequence_it_was_read_with() {
    let returned = item(Presence::Connected, Some((Presence::Disconnected, false)));
    let reconnect = transition(Presence::Connected, 10);
    assert!(!claimable(
        &returned,
        &reconnect,
        Some(3),
        Some(6),
        "this look"
    ));
    assert!(!claimable(
        &returned,
        &reconnect,
        Some(3),
        None,
        "this look"
    ));
}

#[test]
fn sequences_rise_with_each_announcement_and_across_lives() {
    assert_eq!(next_sequence(None, 1_000), 1_000);
    assert_eq!(next_sequence(Some(1_000), 1_000), 1_001);
    assert_eq!(next_sequence(Some(5_000), 1_000), 5_001, "a clock behind");
    assert_eq!(next_sequence(None, -1), 1);
    let old = item(Presence::Connected, Some((Presence::Connected, false)));
    let last = farewell("dev", &old).expect("announced Connected");
    assert_eq!(last.sequence, 8);
    assert!(
        next_sequence(None, 9) > last.sequence,
        "the next life, claimed later"
    );
}

#[test]
fn event_ids_differ_between_lives_of_an_item() {
    let first = transition(Presence::Connected, 10);
    let second = Transition {
        created: 99,
        ..first.clone()
    };
    assert_ne!(first.event_id(), second.event_id());
}

#[test]
fn a_removed_item_says_goodbye_only_if_it_was_last_announced_connected_or_unsure() {
    let connected = item(Presence::Connected, Some((Presence::Connected, false)));
    assert!(farewell("dev", &connected).is_some());
    let pending_disconnect = item(Presence::Disconnected, Some((Presence::Disconnected, true)));
    assert!(farewell("dev", &pending_disconnect).is_some());
    let said = item(
        Presence::Disconnected,
        Some((Presence::Disconnected, false)),
    );
    assert_eq!(farewell("dev", &said), None);
    assert_eq!(farewell("dev", &item(Presence::Connected, None)), None);
    let mut again = connected.clone();
    again.revision = Some(4);
    assert_ne!(
        farewell("dev", &connected).unwrap().event_id,
        farewell("dev", &again).unwrap().event_id
    );
}

#[test]
fn a_put_starts_only_while_the_claim_is_well_inside_its_lease() {
    assert!(may_put(0, CLAIM_PUT_DEADLINE_MS));
    assert!(may_put(CLAIM_PUT_DEADLINE_MS - 1, CLAIM_PUT_DEADLINE_MS));
    assert!(!may_put(CLAIM_PUT_DEADLINE_MS, CLAIM_PUT_DEADLINE_MS));
}

#[test]
fn long_grace_periods_wait_in_hops() {
    assert_eq!(delay_seconds(10_000, 10_000), 0);
    assert_eq!(delay_seconds(10_000, 9_001), 1);
    assert_eq!(delay_seconds(3_600_000, 0), MAX_DELAY_SECONDS);
    assert_eq!(delay_seconds(0, 10_000), 0);
}
