//! The announcement writes against a real AWS API process (see `emulator`): the claim's
//! condition expression agrees with the pure [`claim`] decision on every kind of stored
//! state, and a confirmed announcement is no longer pending.

mod emulator;

use aws_sdk_dynamodb::types::AttributeValue;
use iot_connectivity::announce::{claim, Announced, Claim, Snapshot, Transition};
use iot_connectivity::ordering::Presence;
use iot_connectivity::store::{attr, snapshot_of, Item, Store};
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
    item
}

fn presence(rng: &mut StdRng) -> Presence {
    if rng.random_bool(0.5) {
        Presence::Connected
    } else {
        Presence::Disconnected
    }
}

#[tokio::test]
async fn the_claim_condition_agrees_with_the_pure_decision() {
    let client = emulator::client();
    let table = emulator::create_table(&client, "announce").await;
    let store = Store::new(client.clone(), table.clone(), None);
    let mut rng = StdRng::seed_from_u64(11);
    let mut agreed = [0usize; 3];
    for case in 0..300 {
        let id = format!("dev-{case}");
        let transition = Transition {
            client_id: id.clone(),
            status: presence(&mut rng),
            at: rng.random_range(1..4),
        };
        let other = Transition {
            client_id: id.clone(),
            status: presence(&mut rng),
            at: rng.random_range(1..4),
        };
        let snapshot = Snapshot {
            status: rng.random_bool(0.9).then(|| presence(&mut rng)),
            connect_time: rng.random_bool(0.8).then(|| rng.random_range(1..4)),
            disconnect_time: rng.random_bool(0.8).then(|| rng.random_range(1..4)),
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
        };
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(item_of(&id, &snapshot)))
            .send()
            .await
            .unwrap();
        let decided = claim(&snapshot, &transition);
        let failed = !store.claim_announcement(&transition, "{}").await.unwrap();
        assert_eq!(
            !failed,
            decided == Claim::Announce,
            "{snapshot:?} {transition:?}: the condition {} but the decision is {decided:?}",
            if failed { "failed" } else { "held" }
        );
        agreed[match decided {
            Claim::Announce => 0,
            Claim::ResumePending => 1,
            Claim::Nothing => 2,
        }] += 1;
        if !failed {
            let stored = snapshot_of(&store.get(&id).await.unwrap().unwrap());
            assert_eq!(
                stored.announced,
                Some(Announced {
                    status: transition.status,
                    event_id: transition.event_id(),
                    pending: true
                })
            );
            store
                .confirm_announcement(&id, &transition.event_id())
                .await
                .unwrap();
            let stored = snapshot_of(&store.get(&id).await.unwrap().unwrap());
            assert!(!stored.announced.unwrap().pending, "confirmed");
        }
    }
    assert!(
        agreed.iter().all(|&n| n > 10),
        "every decision is exercised: {agreed:?}"
    );
}
