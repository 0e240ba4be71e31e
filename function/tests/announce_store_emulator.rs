//! The announcement writes against a real AWS API process (see `emulator`): the claim's
//! condition expression agrees with the pure [`claimable`] on every kind of stored state,
//! a confirmed announcement is no longer pending and, at the revision it was decided on,
//! leaves nothing owed; settling needs the revision decided on and nothing pending; a
//! claim or takeover written again by its look (the SDK retrying an attempt whose answer
//! was lost) is still that look's.

mod emulator;

use aws_sdk_dynamodb::types::AttributeValue;
use iot_connectivity::announcements::decision::{claimable, Announced, Snapshot, Transition};
use iot_connectivity::announcements::store::attr;
use iot_connectivity::announcements::store::{snapshot_of, KnownThing};
use iot_connectivity::presence::ordering::Presence;
use iot_connectivity::presence::store::{Item, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn item_of(client: &str, snapshot: &Snapshot) -> Item {
    let mut item = Item::new();
    item.insert(attr::CLIENT_ID.into(), AttributeValue::S(client.into()));
    if let Some(status) = snapshot.status {
        item.insert(
            attr::STATUS.into(),
            AttributeValue::S(status.status().into()),
        );
    }
    if let Some(at) = snapshot.connect_time {
        item.insert(attr::CONNECT_TIME.into(), AttributeValue::N(at.to_string()));
    }
    if let Some(at) = snapshot.disconnect_time {
        item.insert(
            attr::DISCONNECT_TIME.into(),
            AttributeValue::N(at.to_string()),
        );
    }
    if let Some(revision) = snapshot.revision {
        item.insert(
            attr::REVISION.into(),
            AttributeValue::N(revision.to_string()),
        );
    }
    if snapshot.owed {
        item.insert(attr::OWED_SHARD.into(), AttributeValue::S("Owed#0".into()));
    }
    if let Some(announced) = &snapshot.announced {
        item.insert(
            attr::ANNOUNCED_STATUS.into(),
            AttributeValue::S(announced.status.status().into()),
        );
        item.insert(
            attr::ANNOUNCEMENT_ID.into(),
            AttributeValue::S(announced.event_id.clone()),
        );
        if announced.pending {
            item.insert(
                attr::ANNOUNCEMENT_PENDING.into(),
                AttributeValue::Bool(true),
            );
        }
    }
    if let Some(sequence) = snapshot.sequence {
        item.insert(
            attr::ANNOUNCEMENT_SEQUENCE.into(),
            AttributeValue::N(sequence.to_string()),
        );
    }
    if let Some(claim) = &snapshot.claim {
        item.insert(
            attr::ANNOUNCEMENT_CLAIM.into(),
            AttributeValue::S(claim.clone()),
        );
    }
    item
}

fn presence(rng: &mut StdRng) -> Presence {
    if rng.random_bool(0.5) {
        Presence::Connected
    } else {
        Presence::Disconnected
    }
}

/// A table holding "dev", Connected by its connect at 5, at revision 4, owed.
async fn connected_at_revision_4(table_prefix: &str) -> (aws_sdk_dynamodb::Client, String, Store) {
    let client = emulator::client();
    let table = emulator::create_table(&client, table_prefix).await;
    let store = Store::new(client.clone(), table.clone(), None);
    let snapshot = Snapshot {
        status: Some(Presence::Connected),
        connect_time: Some(5),
        revision: Some(4),
        owed: true,
        ..Snapshot::default()
    };
    client
        .put_item()
        .table_name(&table)
        .set_item(Some(item_of("dev", &snapshot)))
        .send()
        .await
        .unwrap();
    (client, table, store)
}

fn connect_at_5() -> Transition {
    Transition {
        client_id: "dev".into(),
        status: Presence::Connected,
        at: 5,
        created: 0,
    }
}

#[tokio::test]
async fn the_claim_condition_agrees_with_the_pure_decision() {
    let client = emulator::client();
    let table = emulator::create_table(&client, "announce").await;
    let store = Store::new(client.clone(), table.clone(), None);
    let mut rng = StdRng::seed_from_u64(11);
    let (mut claimed, mut refused, mut settled, mut retried) = (0, 0, 0, 0);
    for case in 0..300 {
        let id = format!("dev-{case}");
        let transition = Transition {
            client_id: id.clone(),
            status: presence(&mut rng),
            at: rng.random_range(1..4),
            created: 0,
        };
        let other = Transition {
            client_id: id.clone(),
            status: presence(&mut rng),
            at: rng.random_range(1..4),
            created: 0,
        };
        let snapshot = Snapshot {
            status: rng.random_bool(0.9).then(|| presence(&mut rng)),
            connect_time: rng.random_bool(0.8).then(|| rng.random_range(1..4)),
            disconnect_time: rng.random_bool(0.8).then(|| rng.random_range(1..4)),
            disconnect_recorded_at: None,
            announced_at: None,
            claim: None,
            announced: rng.random_bool(0.7).then(|| {
                let named = if rng.random_bool(0.3) {
                    &transition
                } else {
                    &other
                };
                Announced {
                    status: named.status,
                    event_id: named.event_id(),
                    pending: rng.random_bool(0.3),
                }
            }),
            revision: rng.random_bool(0.9).then(|| rng.random_range(1..3)),
            owed: rng.random_bool(0.7),
            sequence: rng.random_bool(0.7).then(|| rng.random_range(1..3)),
            created: None,
        };
        let mut snapshot = snapshot;
        if snapshot.announced.as_ref().is_some_and(|a| a.pending) {
            // Held by this look (an earlier attempt of the same write landed) or another.
            snapshot.claim = Some(
                if rng.random_bool(0.5) {
                    "this look"
                } else {
                    "another look"
                }
                .into(),
            );
        }
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(item_of(&id, &snapshot)))
            .send()
            .await
            .unwrap();
        // The verdict was made at this revision: the stored one, or one it has moved from.
        let decided_at = if rng.random_bool(0.8) {
            snapshot.revision
        } else {
            Some(rng.random_range(1..3))
        };

        // Settling: the revision decided on, the mark present, nothing pending.
        if rng.random_bool(0.3) {
            let status = snapshot.status.unwrap_or(Presence::Disconnected);
            let expected = snapshot.revision == decided_at
                && snapshot.owed
                && !snapshot.announced.as_ref().is_some_and(|a| a.pending);
            assert_eq!(
                store.settle(&id, decided_at, status).await.unwrap(),
                expected,
                "{snapshot:?} settled at {decided_at:?}"
            );
            if expected {
                settled += 1;
                assert!(!snapshot_of(&store.get(&id).await.unwrap().unwrap()).owed);
            }
            continue;
        }

        // The sequence the verdict was read with: mostly the stored one, sometimes stale.
        let read_sequence = if rng.random_bool(0.8) {
            snapshot.sequence
        } else {
            rng.random_bool(0.5).then_some(1)
        };
        let decided = claimable(
            &snapshot,
            &transition,
            decided_at,
            read_sequence,
            "this look",
        );
        let held = store
            .claim_announcement(
                &transition,
                "{}",
                KnownThing::Unchanged,
                decided_at,
                (read_sequence, 1_000 + case),
                "this look",
            )
            .await
            .unwrap();
        assert_eq!(
            held, decided,
            "{snapshot:?} {transition:?} at {decided_at:?}: the condition {} but the decision is {decided}",
            if held { "held" } else { "failed" }
        );
        if !held {
            refused += 1;
            continue;
        }
        claimed += 1;
        if snapshot.claim.as_deref() == Some("this look") {
            retried += 1;
        }
        let stored = snapshot_of(&store.get(&id).await.unwrap().unwrap());
        assert_eq!(
            stored.announced,
            Some(Announced {
                status: transition.status,
                event_id: transition.event_id(),
                pending: true
            })
        );
        assert_eq!(
            stored.revision, snapshot.revision,
            "a claim leaves the revision"
        );
        let settles = store
            .confirm_announcement(
                &id,
                &transition.event_id(),
                "this look",
                Some((decided_at, transition.status)),
            )
            .await
            .unwrap();
        assert_eq!(
            settles,
            snapshot.revision == decided_at,
            "settled only at the revision it was decided on"
        );
        let stored = snapshot_of(&store.get(&id).await.unwrap().unwrap());
        assert!(!stored.announced.unwrap().pending, "confirmed");
        assert_eq!(
            stored.owed,
            snapshot.owed && !settles,
            "settled if it could be"
        );
    }
    assert!(
        claimed > 10 && refused > 10 && settled > 5 && retried > 1,
        "every outcome is exercised: {claimed} claimed ({retried} again by their look), {refused} refused, {settled} settled"
    );
}

/// A confirmation whose item moved on (a presence write bumped the revision) keeps the
/// item marked, so it is looked at again.
#[tokio::test]
async fn a_confirmation_after_the_item_moved_on_leaves_it_owed() {
    let (client, table, store) = connected_at_revision_4("announce-moved").await;
    let transition = connect_at_5();
    assert!(store
        .claim_announcement(
            &transition,
            "{}",
            KnownThing::Unchanged,
            Some(4),
            (None, 1),
            "first look"
        )
        .await
        .unwrap());
    client
        .update_item()
        .table_name(&table)
        .key(attr::CLIENT_ID, AttributeValue::S("dev".into()))
        .update_expression("SET #r = :r")
        .expression_attribute_names("#r", attr::REVISION)
        .expression_attribute_values(":r", AttributeValue::N("5".into()))
        .send()
        .await
        .unwrap();
    let settled = store
        .confirm_announcement(
            "dev",
            &transition.event_id(),
            "first look",
            Some((Some(4), Presence::Connected)),
        )
        .await
        .unwrap();
    assert!(!settled);
    let stored = snapshot_of(&store.get("dev").await.unwrap().unwrap());
    assert!(!stored.announced.unwrap().pending, "confirmed all the same");
    assert!(stored.owed, "still owed: looked at again");
}

/// Of the looks that find an expired claim, the one whose conditional write lands first
/// takes it over; a released claim is taken over at once.
#[tokio::test]
async fn an_expired_claim_is_taken_over_once_and_a_released_one_at_once() {
    let (_, _, store) = connected_at_revision_4("announce-resume").await;
    let transition = connect_at_5();
    assert!(store
        .claim_announcement(
            &transition,
            "{}",
            KnownThing::Unchanged,
            Some(4),
            (None, 1),
            "first look"
        )
        .await
        .unwrap());
    let claimed_at = snapshot_of(&store.get("dev").await.unwrap().unwrap()).announced_at;
    let id = transition.event_id();
    // Two looks read the same expired claim; the first takes it over, the second cannot.
    assert!(store
        .resume_announcement("dev", &id, claimed_at, "second look", None)
        .await
        .unwrap());
    assert!(!store
        .resume_announcement("dev", &id, claimed_at, "third look", None)
        .await
        .unwrap());
    assert!(!store
        .resume_announcement("dev", "another", None, "third look", None)
        .await
        .unwrap());
    // Only the claim's holder releases it.
    assert!(!store
        .release_announcement("dev", &id, "first look")
        .await
        .unwrap());
    // Its put failed: released, the next look finds it due at once.
    assert!(store
        .release_announcement("dev", &id, "second look")
        .await
        .unwrap());
    let released = snapshot_of(&store.get("dev").await.unwrap().unwrap());
    assert_eq!(released.announced_at, Some(0));
    assert_eq!(
        iot_connectivity::announcements::decision::look(
            "dev",
            &released,
            0,
            iot_connectivity::shared::time::now_ms(),
            None
        ),
        iot_connectivity::announcements::decision::Verdict::ResumePending
    );
    // A released claim confirms nothing for its old holder; the next look takes it over.
    store
        .confirm_announcement(
            "dev",
            &id,
            "second look",
            Some((Some(4), Presence::Connected)),
        )
        .await
        .unwrap();
    assert!(store
        .resume_announcement("dev", &id, Some(0), "third look", None)
        .await
        .unwrap());
    // Once confirmed, nothing is pending: neither write applies.
    store
        .confirm_announcement(
            "dev",
            &id,
            "third look",
            Some((Some(4), Presence::Connected)),
        )
        .await
        .unwrap();
    assert!(!store
        .release_announcement("dev", &id, "third look")
        .await
        .unwrap());
    assert!(!store
        .resume_announcement("dev", &id, Some(0), "fourth look", None)
        .await
        .unwrap());
}

/// A look whose claim was taken over (it outlived its lease) confirms and releases
/// nothing: the takeover's look owns the announcement now.
#[tokio::test]
async fn only_the_claims_holder_confirms_it() {
    let (_, _, store) = connected_at_revision_4("announce-fenced").await;
    let transition = connect_at_5();
    assert!(store
        .claim_announcement(
            &transition,
            "{}",
            KnownThing::Unchanged,
            Some(4),
            (None, 1),
            "first look"
        )
        .await
        .unwrap());
    let claimed_at = snapshot_of(&store.get("dev").await.unwrap().unwrap()).announced_at;
    let id = transition.event_id();
    assert!(store
        .resume_announcement("dev", &id, claimed_at, "second look", None)
        .await
        .unwrap());
    let settled = store
        .confirm_announcement(
            "dev",
            &id,
            "first look",
            Some((Some(4), Presence::Connected)),
        )
        .await
        .unwrap();
    assert!(!settled);
    let stored = snapshot_of(&store.get("dev").await.unwrap().unwrap());
    assert!(
        stored.announced.as_ref().unwrap().pending,
        "still the second look's to put and confirm"
    );
    assert_eq!(stored.claim.as_deref(), Some("second look"));
    assert!(stored.owed);
    assert_eq!(stored.sequence, Some(1), "the claim wrote its sequence");
}

/// The SDK retries a write whose attempt timed out, and the attempt may have landed: the
/// retry of a claim or a takeover must find it the look's own, or the announcement waits
/// out the lease (a minute) with nobody putting it.
#[tokio::test]
async fn a_claim_written_again_after_its_answer_was_lost_is_still_its_looks() {
    let (_, _, store) = connected_at_revision_4("announce-retried").await;
    let transition = connect_at_5();
    for attempt in 1..=2 {
        assert!(
            store
                .claim_announcement(
                    &transition,
                    "{}",
                    KnownThing::Unchanged,
                    Some(4),
                    (None, 1),
                    "first look"
                )
                .await
                .unwrap(),
            "attempt {attempt} of the claim"
        );
    }
    assert!(!store
        .claim_announcement(
            &transition,
            "{}",
            KnownThing::Unchanged,
            Some(4),
            (None, 1),
            "second look"
        )
        .await
        .unwrap());
    let id = transition.event_id();
    let claimed_at = snapshot_of(&store.get("dev").await.unwrap().unwrap()).announced_at;
    for attempt in 1..=2 {
        assert!(
            store
                .resume_announcement("dev", &id, claimed_at, "second look", None)
                .await
                .unwrap(),
            "attempt {attempt} of the takeover"
        );
    }
    assert!(!store
        .resume_announcement("dev", &id, claimed_at, "third look", None)
        .await
        .unwrap());
    let stored = snapshot_of(&store.get("dev").await.unwrap().unwrap());
    assert_eq!(stored.claim.as_deref(), Some("second look"));
    store
        .confirm_announcement(
            "dev",
            &id,
            "second look",
            Some((Some(4), Presence::Connected)),
        )
        .await
        .unwrap();
    let confirmed = snapshot_of(&store.get("dev").await.unwrap().unwrap());
    assert_eq!(
        confirmed.claim, None,
        "a confirmed announcement has no claim"
    );
    // An attempt that lands after the confirmation claims nothing: no second put.
    assert!(!store
        .claim_announcement(
            &transition,
            "{}",
            KnownThing::Unchanged,
            Some(4),
            (None, 1),
            "first look"
        )
        .await
        .unwrap());
    assert!(!store
        .resume_announcement("dev", &id, claimed_at, "second look", None)
        .await
        .unwrap());
}
