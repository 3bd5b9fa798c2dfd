//! `kuksa.val.v1.VAL`: what kuksa-client uses to connect (`GetServerInfo`), to read current
//! values, targets and metadata (`Get`), to write targets (`Set`), and as a fallback for
//! subscriptions. Per-entry problems are reported in the response's `errors`, as Kuksa does;
//! a malformed request is a gRPC status.

use crate::convert::{self, v1_datapoint, v1_metadata};
use crate::proto::v1::{self, val_server::Val, DataEntry, DataEntryError, EntryUpdate, Field, View};
use crate::server::{Slot, State};
use crate::subscribe::{self, Key};
use silverline_vss::{Signal, SignalKind, SignalStore, Value};
use std::sync::Arc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

pub(crate) struct V1 {
    pub(crate) state: Arc<State>,
}

/// What a request asks of each entry.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Want {
    value: bool,
    target: bool,
    metadata: bool,
}

impl Want {
    /// A view with extra fields; the view says the default, the fields add to it.
    fn of(view: i32, fields: &[i32]) -> Want {
        let mut w = match View::try_from(view).unwrap_or(View::Unspecified) {
            View::Unspecified | View::CurrentValue => Want { value: true, ..Want::default() },
            View::TargetValue => Want { target: true, ..Want::default() },
            View::Metadata => Want { metadata: true, ..Want::default() },
            View::All => Want { value: true, target: true, metadata: true },
            View::Fields => Want::default(),
        };
        for f in fields.iter().filter_map(|&f| Field::try_from(f).ok()) {
            match f {
                Field::Value => w.value = true,
                Field::ActuatorTarget => w.target = true,
                Field::Unspecified | Field::Path => {}
                _ => w.metadata = true,
            }
        }
        w
    }
}

/// One v1 update after the catalog's checks.
enum Checked<'a> {
    /// The writes it makes (a current value, a target, or both).
    Apply(Vec<(Slot, &'a Signal, Value)>),
    /// Why it is refused.
    Refuse(DataEntryError),
}

fn entry_error(path: &str, error: v1::Error) -> DataEntryError {
    DataEntryError { path: path.to_string(), error: Some(error) }
}

fn not_found(path: &str) -> DataEntryError {
    entry_error(path, v1::Error { code: 404, reason: "not_found".into(), message: format!("no signal matches `{path}` in the VSS catalog") })
}

impl V1 {
    fn data_entry(&self, s: &Signal, want: Want) -> DataEntry {
        let read = |slot: Slot| self.state.store(slot).get(s.id).ok().flatten();
        DataEntry {
            path: s.path.clone(),
            value: want.value.then(|| v1_datapoint(s, read(Slot::Current).as_ref())),
            actuator_target: (want.target && s.kind == SignalKind::Actuator).then(|| v1_datapoint(s, read(Slot::Target).as_ref())),
            metadata: want.metadata.then(|| v1_metadata(s)),
        }
    }

    /// The checked writes of one update, or the per-entry error that refuses it; a malformed
    /// update fails the whole request.
    fn checked(&self, u: EntryUpdate) -> Result<Checked<'_>, Status> {
        let entry = u.entry.ok_or_else(|| Status::invalid_argument("an update without an entry"))?;
        let path = entry.path.as_str();
        let Some(s) = self.state.values.catalog().get(path) else { return Ok(Checked::Refuse(not_found(path))) };
        let has = |f: Field| u.fields.contains(&(f as i32));
        let parts = [
            (Slot::Current, has(Field::Value) || (u.fields.is_empty() && entry.value.is_some()), entry.value.as_ref()),
            (Slot::Target, has(Field::ActuatorTarget) || (u.fields.is_empty() && entry.actuator_target.is_some()), entry.actuator_target.as_ref()),
        ];
        if parts[1].1 && s.kind != SignalKind::Actuator {
            return Err(Status::invalid_argument(format!("`{path}` is a {}, not an actuator: it has no target value", s.kind.name())));
        }
        let mut writes = Vec::new();
        for (slot, _, dp) in parts.into_iter().filter(|p| p.1) {
            let v = match convert::from_v1(path, dp) {
                Ok(v) => v,
                Err(e) => return Ok(Checked::Refuse(entry_error(path, convert::v1_wire_error(&e)))),
            };
            if let Err(e) = s.check(&v) {
                self.state.store(slot).counters.refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Ok(Checked::Refuse(entry_error(path, convert::v1_error(&e))));
            }
            writes.push((slot, s, v));
        }
        if writes.is_empty() {
            let e = v1::Error { code: 400, reason: "bad_request".into(), message: format!("`{path}`: nothing to set (give FIELD_VALUE or FIELD_ACTUATOR_TARGET)") };
            return Ok(Checked::Refuse(entry_error(path, e)));
        }
        Ok(Checked::Apply(writes))
    }

    fn subscribe_keys(&self, entries: &[v1::SubscribeEntry]) -> Result<Vec<Key>, Status> {
        let catalog = self.state.values.catalog();
        let mut keys = Vec::new();
        for e in entries {
            let signals = crate::paths::select(catalog, &e.path);
            if signals.is_empty() {
                return Err(Status::not_found(format!("no signal matches `{}` in the VSS catalog", e.path)));
            }
            let want = Want::of(e.view, &e.fields);
            for s in signals {
                if want.value {
                    keys.push((Slot::Current, s.id));
                }
                if want.target && s.kind == SignalKind::Actuator {
                    keys.push((Slot::Target, s.id));
                }
            }
        }
        keys.sort_unstable();
        keys.dedup();
        Ok(keys)
    }
}

/// One v1 subscription message: an update per changed key, with the field it carries.
fn render(state: &State, keys: &[Key]) -> v1::SubscribeResponse {
    let catalog = state.values.catalog();
    let updates = keys
        .iter()
        .filter_map(|&(slot, id)| {
            let s = catalog.by_id(id)?;
            let dp = Some(v1_datapoint(s, state.store(slot).get(id).ok().flatten().as_ref()));
            let (entry, field) = match slot {
                Slot::Current => (DataEntry { path: s.path.clone(), value: dp, ..Default::default() }, Field::Value),
                Slot::Target => (DataEntry { path: s.path.clone(), actuator_target: dp, ..Default::default() }, Field::ActuatorTarget),
            };
            Some(EntryUpdate { entry: Some(entry), fields: vec![field as i32] })
        })
        .collect();
    v1::SubscribeResponse { updates }
}

#[tonic::async_trait]
impl Val for V1 {
    async fn get(&self, request: Request<v1::GetRequest>) -> Result<Response<v1::GetResponse>, Status> {
        let requested = request.into_inner().entries;
        if requested.is_empty() {
            return Err(Status::invalid_argument("no entries requested"));
        }
        let catalog = self.state.values.catalog();
        let (mut entries, mut errors) = (Vec::new(), Vec::new());
        for r in &requested {
            let signals = crate::paths::select(catalog, &r.path);
            if signals.is_empty() {
                errors.push(not_found(&r.path));
            }
            let want = Want::of(r.view, &r.fields);
            entries.extend(signals.into_iter().map(|s| self.data_entry(s, want)));
        }
        // Kuksa repeats the first per-entry error as the response's error.
        let error = errors.first().and_then(|e: &DataEntryError| e.error.clone());
        Ok(Response::new(v1::GetResponse { entries, errors, error }))
    }

    async fn set(&self, request: Request<v1::SetRequest>) -> Result<Response<v1::SetResponse>, Status> {
        let (mut writes, mut errors) = (Vec::new(), Vec::new());
        for u in request.into_inner().updates {
            match self.checked(u)? {
                Checked::Apply(w) => writes.extend(w),
                Checked::Refuse(e) => errors.push(e),
            }
        }
        // All or nothing: a request with one refused entry changes nothing.
        if errors.is_empty() {
            for (slot, s, v) in writes {
                if let Err(e) = self.state.write(slot, s, v) {
                    errors.push(entry_error(&s.path, convert::v1_error(&e)));
                }
            }
        }
        Ok(Response::new(v1::SetResponse { error: None, errors }))
    }

    type SubscribeStream = ReceiverStream<Result<v1::SubscribeResponse, Status>>;

    async fn subscribe(&self, request: Request<v1::SubscribeRequest>) -> Result<Response<Self::SubscribeStream>, Status> {
        let entries = request.into_inner().entries;
        if entries.is_empty() {
            return Err(Status::invalid_argument("no entries to subscribe to"));
        }
        let keys = self.subscribe_keys(&entries)?;
        Ok(Response::new(subscribe::stream(&self.state, keys, 16, render)?))
    }

    async fn get_server_info(&self, _: Request<v1::GetServerInfoRequest>) -> Result<Response<v1::GetServerInfoResponse>, Status> {
        Ok(Response::new(v1::GetServerInfoResponse { name: crate::SERVER_NAME.into(), version: env!("CARGO_PKG_VERSION").into() }))
    }
}
