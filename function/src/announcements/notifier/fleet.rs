//! What a device announcement learns from outside its item, and fleet announcements:
//! the thing's context (the registry, else what its last announcement carried), the
//! maintenance window in force, and the storm its disconnect counts in; and each storm
//! group's `Fleet Connectivity Degraded` / `Restored`, claimed on the group's head, put,
//! confirmed, and settled by the reconciler's pass ([`Notifier::settle_storms`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tracing::{error, info, warn};

use super::put::Put;
use super::{Notifier, NotifierError};
use crate::announcements::detail::text;
use crate::announcements::fleet_store::{StoredHead, Which};
use crate::announcements::maintenance::{applying, Window};
use crate::announcements::store::{attr, KnownThing};
use crate::announcements::storm::Member;
use crate::announcements::storm::{
    decide, group_key, stale, waits_for_storm, FleetAnnouncement, StormVerdict,
};
use crate::announcements::thing::{thing_name, Context};
use crate::presence::store::{Item, StoreError};
use crate::shared::dynamodb::number_attr;
use crate::shared::time::{now_ms, since_epoch};

/// Windows read from the fleet table are used for this long.
const WINDOWS_TTL: Duration = Duration::from_secs(10);

/// What a device's announcement says beyond its item.
#[derive(Debug, Clone, Default)]
pub(super) struct Enrichment {
    pub(super) context: Option<Context>,
    pub(super) maintenance: Option<Window>,
    /// Wall-clock ms just before the look read the item: a return takes out of its storm
    /// only a member recorded before then, never a later disconnect's.
    pub(super) read_at: i64,
}

impl Enrichment {
    /// What the claim keeps of the thing on the item: what the registry said, if it answered.
    pub(super) fn known_thing(&self) -> KnownThing {
        match &self.context {
            Some(context @ Context::Known(_)) => {
                context.detail().map_or(KnownThing::Unchanged, |thing| {
                    KnownThing::Is(thing.to_string())
                })
            }
            Some(Context::NoThing) => KnownThing::Gone,
            Some(Context::Unavailable { .. }) | None => KnownThing::Unchanged,
        }
    }

    /// Adds `thing`, `maintenance` (and `stormId`) to a device announcement's detail.
    pub(super) fn apply(&self, detail: &mut Value, storm_id: Option<&str>) {
        if let Some(thing) = self.context.as_ref().and_then(Context::detail) {
            detail["thing"] = thing;
        }
        if let Some(window) = &self.maintenance {
            detail["maintenance"] = window.detail();
        }
        if let Some(storm_id) = storm_id {
            detail["stormId"] = Value::from(storm_id);
        }
    }
}

/// The windows read last, and when.
pub(super) type WindowsCache = tokio::sync::Mutex<Option<(Instant, Arc<Vec<Window>>)>>;

impl Notifier {
    /// The context and window of a device whose announcement is due or waits out its
    /// grace: nothing is read for a device that owes none.
    /// A window covers the device if it applies now or applied when it went down. The
    /// fleet table failing to answer leaves the announcement unmarked rather than unsaid.
    pub(super) async fn enrich(&self, client_id: &str, item: &Item, read_at: i64) -> Enrichment {
        let context = match &self.registry {
            Some(registry) => {
                let name = text(item, attr::THING_NAME);
                let context = registry
                    .lookup(thing_name(client_id, name.as_deref()))
                    .await;
                Some(match context {
                    // The registry did not answer in time: what the last announcement said.
                    Context::Unavailable { .. } => stored_context(item).unwrap_or(context),
                    context => context,
                })
            }
            None => None,
        };
        let maintenance = match &self.fleet {
            Some(_) => match self.windows().await {
                Ok(windows) => {
                    let no_context = Context::NoThing;
                    let context = context.as_ref().unwrap_or(&no_context);
                    let went_down = (text(item, attr::STATUS).as_deref() == Some("Disconnected"))
                        .then(|| number_attr::<i64>(item, attr::DISCONNECT_TIME))
                        .flatten();
                    [Some(now_ms()), went_down]
                        .into_iter()
                        .flatten()
                        .find_map(|at| applying(&windows, client_id, context, at))
                        .cloned()
                }
                Err(err) => {
                    error!(error = %err, clientId = client_id, "maintenance windows not read: announced unmarked");
                    None
                }
            },
            None => None,
        };
        Enrichment {
            context,
            maintenance,
            read_at,
        }
    }

    async fn windows(&self) -> Result<Arc<Vec<Window>>, NotifierError> {
        let fleet = self.fleet.as_ref().expect("windows need the fleet table");
        let mut cache = self.windows.lock().await;
        if let Some((at, windows)) = cache.as_ref() {
            if at.elapsed() < WINDOWS_TTL {
                return Ok(windows.clone());
            }
        }
        let now = now_ms();
        let windows: Arc<Vec<Window>> = Arc::new(
            fleet
                .windows()
                .await?
                .into_iter()
                .filter(|w| w.effective_end() > now)
                .collect(),
        );
        *cache = Some((Instant::now(), windows.clone()));
        Ok(windows)
    }

    /// The storm group of a device, if storms are on and it has one.
    fn storm_group(&self, enrichment: &Enrichment) -> Option<(String, String)> {
        let storm = self.config.storm.as_ref()?;
        let group = storm
            .group_by
            .key(enrichment.context.as_ref().unwrap_or(&Context::NoThing))?;
        Some((group_key(storm, &group), group))
    }

    /// Before a device's Disconnected (due at `due_at`) is claimed: it joins its group, and
    /// if that group's storm is open (or this disconnect opens it), the storm's id. A device
    /// in maintenance counts in no storm.
    /// The fleet table failing leaves the look to a later one (the error), for
    /// [`STORM_READ_HOLD_MS`](crate::announcements::storm::STORM_READ_HOLD_MS) past the due
    /// time; after that the device is announced on its own (no `stormId`): paged alone
    /// rather than not at all, and the reconciler's pass counts it if it joined.
    pub(super) async fn storm_of_disconnect(
        &self,
        client_id: &str,
        enrichment: &Enrichment,
        due_at: i64,
    ) -> Result<Option<String>, NotifierError> {
        if enrichment.maintenance.is_some() {
            return Ok(None);
        }
        let (Some((key, group)), Some(fleet)) = (self.storm_group(enrichment), &self.fleet) else {
            return Ok(None);
        };
        let storm = async {
            fleet.join(&key, &group, client_id, now_ms()).await?;
            let now = now_ms();
            let stored = fleet.head(&key).await?;
            if let Some(storm_id) = open_storm(&stored) {
                return Ok(Some(storm_id));
            }
            self.settle_group(&key, &group, false, Some((now, stored)))
                .await?;
            Ok::<_, NotifierError>(open_storm(&fleet.head(&key).await?))
        };
        match storm.await {
            Ok(storm_id) => Ok(storm_id),
            Err(err) if waits_for_storm(due_at, now_ms()) => {
                warn!(error = %err, clientId = client_id, group, "storm not read: left to the next look");
                Err(err)
            }
            Err(err) => {
                error!(error = %err, clientId = client_id, group, "storm not read: announced on its own");
                Ok(None)
            }
        }
    }

    /// Before a device's Connected is claimed: it leaves its group's storm. (A storm is
    /// announced Restored by the reconciler's pass, which counts what is left.)
    /// A failure leaves the member to the reconciler's pass, which finds the device back.
    pub(super) async fn storm_of_return(&self, client_id: &str, enrichment: &Enrichment) {
        if let (Some((key, group)), Some(fleet)) = (self.storm_group(enrichment), &self.fleet) {
            if let Err(err) = fleet
                .leave(&key, client_id, Which::Before(enrichment.read_at))
                .await
            {
                warn!(error = %err, clientId = client_id, group, "not taken out of its storm group: left to the reconciler");
            }
        }
    }

    /// A removed item's member, found by the group its last announcement's thing names.
    pub(super) async fn leave_storm_removed(&self, record: &Value) {
        let old = super::farewell::old_item(record);
        let (Some(client_id), Some(context)) = (
            record["dynamodb"]["Keys"]["ClientID"]["S"].as_str(),
            stored_context(&old),
        ) else {
            return;
        };
        let enrichment = Enrichment {
            context: Some(context),
            maintenance: None,
            read_at: now_ms(),
        };
        self.storm_of_return(client_id, &enrichment).await;
    }

    /// The reconciler's pass over storm groups: each group's pending fleet announcement is
    /// put, a storm whose devices are back is announced Restored, a storm a lost signal left
    /// unannounced is announced Degraded, and members no storm can count are removed.
    pub(super) async fn settle_storms(&self, stop_at: Instant) {
        let (Some(_), Some(fleet)) = (&self.config.storm, &self.fleet) else {
            return;
        };
        let mut groups = match fleet.groups().await {
            Ok(groups) => groups,
            Err(err) => {
                error!(error = %err, "storm groups not read");
                return;
            }
        };
        // Each pass starts at another group, so one that runs out of time is not always
        // the same.
        if !groups.is_empty() {
            let first = since_epoch().subsec_nanos() as usize % groups.len();
            groups.rotate_left(first);
        }
        for (key, group) in groups {
            if Instant::now() >= stop_at {
                break;
            }
            if let Err(err) = self.settle_group(&key, &group, true, None).await {
                error!(error = %err, group, "storm group not settled");
            }
        }
    }

    /// Decides a group from its head and members, and does what the verdict asks. With
    /// `verify` (the reconciler's pass), members whose device is back or gone leave first.
    ///
    /// `now` is taken before the head is read: a storm opened after that read starts no
    /// earlier than `now` less the window, so the members found stale here are none of its.
    /// `read`: the head a caller read just now, with the time taken before that read.
    async fn settle_group(
        &self,
        key: &str,
        group: &str,
        verify: bool,
        read: Option<(i64, StoredHead)>,
    ) -> Result<(), NotifierError> {
        let storm = self.config.storm.as_ref().expect("storms are on");
        let fleet = self.fleet.as_ref().expect("storms need the fleet table");
        let (now, stored) = match read {
            Some(read) => read,
            None => (now_ms(), fleet.head(key).await?),
        };
        let mut members = fleet.members(key).await?;
        let mut leaving: Vec<Member> = stale(storm, &stored.head, &members, now)
            .into_iter()
            .cloned()
            .collect();
        if verify {
            leaving.extend(self.members_back(&members).await?);
        }
        for member in &leaving {
            fleet
                .leave(key, &member.client_id, Which::Recorded(member.down_at))
                .await?;
        }
        members.retain(|m| !leaving.contains(m));
        let token = super::look::claim_token();
        match decide(storm, group, &stored.head, &members, now) {
            StormVerdict::Quiet { peak } => {
                if let (Some(peak), Some(storm_id)) = (peak, &stored.head.storm_id) {
                    fleet.raise_peak(key, storm_id, peak).await?;
                }
                Ok(())
            }
            StormVerdict::ClaimedElsewhere => Ok(()),
            StormVerdict::ResumePending => {
                // The fence counts from before the claim's write, as a device look's does.
                let claimed_at = Instant::now();
                if !fleet.resume(key, stored.head.claimed_at, &token).await? {
                    return Ok(());
                }
                let Some(detail) = stored.detail else {
                    warn!(group, "a pending fleet announcement without its detail");
                    return Ok(());
                };
                let detail_type = if stored.head.state
                    == Some(crate::announcements::storm::FleetState::Degraded)
                {
                    crate::announcements::storm::DEGRADED
                } else {
                    crate::announcements::storm::RESTORED
                };
                self.put_fleet(key, group, detail, detail_type, &token, claimed_at)
                    .await
            }
            StormVerdict::Announce(announcement) => {
                let claimed_at = Instant::now();
                if !fleet
                    .claim(key, group, &stored.head, &announcement, &token)
                    .await?
                {
                    // Another look decided the group meanwhile.
                    return Ok(());
                }
                let FleetAnnouncement { detail, .. } = &announcement;
                self.put_fleet(
                    key,
                    group,
                    detail.to_string(),
                    announcement.detail_type(),
                    &token,
                    claimed_at,
                )
                .await
            }
        }
    }

    /// Members whose device is back (announced Connected, nothing pending) or whose item is
    /// gone: a return that raced its own join (the device reconnected between joining and
    /// claiming its Disconnected, so no Connected is announced to take it out), or a
    /// removal whose farewell named no thing. Read 100 at a time.
    async fn members_back(&self, members: &[Member]) -> Result<Vec<Member>, NotifierError> {
        use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
        let mut back = Vec::new();
        for chunk in members.chunks(100) {
            let keys = chunk
                .iter()
                .map(|m| {
                    HashMap::from([(
                        attr::CLIENT_ID.to_owned(),
                        AttributeValue::S(m.client_id.clone()),
                    )])
                })
                .collect();
            let mut request = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .projection_expression("#c, #s, #a, #p")
                    .expression_attribute_names("#c", attr::CLIENT_ID)
                    .expression_attribute_names("#s", attr::STATUS)
                    .expression_attribute_names("#a", attr::ANNOUNCED_STATUS)
                    .expression_attribute_names("#p", attr::ANNOUNCEMENT_PENDING)
                    .build()
                    .expect("keys are set"),
            );
            let mut found: HashMap<String, Item> = HashMap::new();
            // Unprocessed keys are asked again a few times; one still unread is not judged.
            let mut unread = true;
            for _ in 0..4 {
                let Some(asked) = request.take() else {
                    unread = false;
                    break;
                };
                let output = self
                    .dynamodb
                    .batch_get_item()
                    .request_items(&self.config.table_name, asked)
                    .send()
                    .await
                    .map_err(|err| {
                        StoreError::dynamodb(
                            "BatchGetItem",
                            &self.config.table_name,
                            "storm members",
                            err,
                        )
                    })?;
                for item in output
                    .responses()
                    .and_then(|r| r.get(&self.config.table_name))
                    .into_iter()
                    .flatten()
                {
                    if let Some(client_id) = text(item, attr::CLIENT_ID) {
                        found.insert(client_id, item.clone());
                    }
                }
                request = output
                    .unprocessed_keys()
                    .and_then(|u| u.get(&self.config.table_name))
                    .cloned();
            }
            if unread && request.is_some() {
                continue;
            }
            back.extend(
                chunk
                    .iter()
                    .filter(|m| match found.get(&m.client_id) {
                        None => true,
                        Some(item) => {
                            text(item, attr::STATUS).as_deref() == Some("Connected")
                                && text(item, attr::ANNOUNCED_STATUS).as_deref()
                                    == Some("Connected")
                                && !item.contains_key(attr::ANNOUNCEMENT_PENDING)
                        }
                    })
                    .cloned(),
            );
        }
        Ok(back)
    }

    /// Puts one claimed fleet announcement, then confirms it, or releases its claim so the
    /// next pass takes it over at once.
    async fn put_fleet(
        &self,
        key: &str,
        group: &str,
        detail: String,
        detail_type: &'static str,
        token: &str,
        claimed_at: Instant,
    ) -> Result<(), NotifierError> {
        let fleet = self.fleet.as_ref().expect("storms need the fleet table");
        let put = Put {
            client_id: key.to_owned(),
            event_id: serde_json::from_str::<Value>(&detail)
                .ok()
                .and_then(|d| d["eventId"].as_str().map(str::to_owned))
                .unwrap_or_default(),
            token: token.to_owned(),
            detail,
            detail_type,
            settle: None,
            claimed_at,
        };
        let result = self
            .put_batch(std::slice::from_ref(&put), true)
            .await
            .remove(0);
        match result {
            Ok(()) => {
                info!(group, detailType = detail_type, "fleet announcement put");
                if let Err(err) = fleet.confirm(key, token).await {
                    warn!(error = %err, group, "fleet announcement put, not confirmed: put again after its lease");
                }
                Ok(())
            }
            Err(message) => {
                warn!(
                    error = message,
                    group, "fleet announcement not put: released for the next pass"
                );
                if let Err(err) = fleet.release(key, token).await {
                    warn!(error = %err, group, "fleet claim not released: put again after its lease");
                }
                Ok(())
            }
        }
    }
}

/// The id of the group's storm if one is open (announced or being announced Degraded).
fn open_storm(stored: &StoredHead) -> Option<String> {
    (stored.head.state == Some(crate::announcements::storm::FleetState::Degraded))
        .then(|| stored.head.storm_id.clone())
        .flatten()
}

/// The thing the item's pending announcement carries, else the one its newest
/// announcement that knew it carried; only if it is still the thing the device connects as.
pub(super) fn stored_context(item: &Item) -> Option<Context> {
    let pending = text(item, attr::ANNOUNCEMENT_DETAIL)
        .and_then(|detail| serde_json::from_str::<Value>(&detail).ok())
        .and_then(|detail| Context::from_detail(detail.get("thing")?));
    let context = pending.or_else(|| {
        let thing: Value = serde_json::from_str(&text(item, attr::ANNOUNCED_THING)?).ok()?;
        Context::from_detail(&thing)
    })?;
    let client_id = text(item, attr::CLIENT_ID)?;
    let connected_as = text(item, attr::THING_NAME);
    match &context {
        Context::Known(thing) if thing.name == thing_name(&client_id, connected_as.as_deref()) => {
            Some(context)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::AttributeValue;
    use serde_json::json;

    use super::*;

    fn item(attributes: &[(&str, &str)]) -> Item {
        attributes
            .iter()
            .map(|(name, value)| (name.to_string(), AttributeValue::S(value.to_string())))
            .collect()
    }

    #[test]
    fn the_kept_thing_is_the_fallback_only_while_it_is_the_thing_the_device_connects_as() {
        let thing =
            json!({"name": "cam-1", "type": "camera", "attributes": {}, "groups": ["north"]})
                .to_string();
        let kept = item(&[(attr::CLIENT_ID, "cam-1"), (attr::ANNOUNCED_THING, &thing)]);
        assert!(matches!(stored_context(&kept), Some(Context::Known(t)) if t.groups == ["north"]));
        let renamed = item(&[
            (attr::CLIENT_ID, "cam-1"),
            (attr::THING_NAME, "cam-1-v2"),
            (attr::ANNOUNCED_THING, &thing),
        ]);
        assert_eq!(stored_context(&renamed), None);
        assert_eq!(stored_context(&item(&[(attr::CLIENT_ID, "cam-1")])), None);
    }
}
