//! `kuksa.val.v2.VAL`: reads by path or id, `PublishValue` (current values), `Actuate`
//! (actuator targets), subscriptions and metadata. Errors are gRPC statuses only, as in Kuksa:
//! NOT_FOUND for an unknown signal, INVALID_ARGUMENT for a value the catalog refuses.

use crate::convert::{self, v2_datapoint, v2_metadata};
use crate::proto::v2::{self, signal_id, val_server::Val};
use crate::server::{Slot, State};
use crate::subscribe::{self, Key};
use silverline_vss::{Signal, SignalKind, SignalStore};
use std::sync::Arc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

pub(crate) struct V2 {
    pub(crate) state: Arc<State>,
}

/// Kuksa's limit on a subscription's `buffer_size`.
const MAX_BUFFER: u32 = 1000;

impl V2 {
    fn signal(&self, id: Option<&v2::SignalId>) -> Result<&Signal, Status> {
        match id.and_then(|i| i.signal.as_ref()) {
            Some(signal_id::Signal::Path(p)) => self.state.signal(p),
            Some(signal_id::Signal::Id(i)) => {
                let found = u32::try_from(*i).ok().and_then(|i| self.state.values.catalog().by_id(i));
                found.ok_or_else(|| Status::not_found(format!("no signal with id {i} in the VSS catalog")))
            }
            None => Err(Status::invalid_argument("no signal_id given")),
        }
    }

    fn current(&self, s: &Signal) -> v2::Datapoint {
        v2_datapoint(s, self.state.values.get(s.id).ok().flatten().as_ref())
    }

    fn buffer(size: u32) -> Result<usize, Status> {
        if size > MAX_BUFFER {
            return Err(Status::invalid_argument(format!("buffer_size {size} is larger than {MAX_BUFFER}")));
        }
        Ok(size.max(16) as usize)
    }
}

fn by_path(state: &State, keys: &[Key]) -> v2::SubscribeResponse {
    let catalog = state.values.catalog();
    let entries = keys.iter().filter_map(|&(_, id)| catalog.by_id(id)).map(|s| (s.path.clone(), v2_datapoint(s, state.values.get(s.id).ok().flatten().as_ref()))).collect();
    v2::SubscribeResponse { entries }
}

fn by_id(state: &State, keys: &[Key]) -> v2::SubscribeByIdResponse {
    let catalog = state.values.catalog();
    let entries = keys.iter().filter_map(|&(_, id)| catalog.by_id(id)).map(|s| (s.id as i32, v2_datapoint(s, state.values.get(s.id).ok().flatten().as_ref()))).collect();
    v2::SubscribeByIdResponse { entries }
}

#[tonic::async_trait]
impl Val for V2 {
    async fn get_value(&self, request: Request<v2::GetValueRequest>) -> Result<Response<v2::GetValueResponse>, Status> {
        let s = self.signal(request.get_ref().signal_id.as_ref())?;
        Ok(Response::new(v2::GetValueResponse { data_point: Some(self.current(s)) }))
    }

    async fn get_values(&self, request: Request<v2::GetValuesRequest>) -> Result<Response<v2::GetValuesResponse>, Status> {
        let data_points = request.get_ref().signal_ids.iter().map(|id| self.signal(Some(id)).map(|s| self.current(s))).collect::<Result<_, _>>()?;
        Ok(Response::new(v2::GetValuesResponse { data_points }))
    }

    type SubscribeStream = ReceiverStream<Result<v2::SubscribeResponse, Status>>;

    async fn subscribe(&self, request: Request<v2::SubscribeRequest>) -> Result<Response<Self::SubscribeStream>, Status> {
        let r = request.into_inner();
        if r.signal_paths.is_empty() {
            return Err(Status::invalid_argument("no signal_paths to subscribe to"));
        }
        let buffer = V2::buffer(r.buffer_size)?;
        // Leaves only, as in Kuksa: a branch is NOT_FOUND, and kuksa-client then expands it
        // with ListMetadata.
        let keys = r.signal_paths.iter().map(|p| self.state.signal(p).map(|s| (Slot::Current, s.id))).collect::<Result<Vec<_>, _>>()?;
        Ok(Response::new(subscribe::stream(&self.state, keys, buffer, by_path)?))
    }

    type SubscribeByIdStream = ReceiverStream<Result<v2::SubscribeByIdResponse, Status>>;

    async fn subscribe_by_id(&self, request: Request<v2::SubscribeByIdRequest>) -> Result<Response<Self::SubscribeByIdStream>, Status> {
        let r = request.into_inner();
        if r.signal_ids.is_empty() {
            return Err(Status::invalid_argument("no signal_ids to subscribe to"));
        }
        let buffer = V2::buffer(r.buffer_size)?;
        let id = |i: i32| v2::SignalId { signal: Some(signal_id::Signal::Id(i)) };
        let keys = r.signal_ids.iter().map(|&i| self.signal(Some(&id(i))).map(|s| (Slot::Current, s.id))).collect::<Result<Vec<_>, _>>()?;
        Ok(Response::new(subscribe::stream(&self.state, keys, buffer, by_id)?))
    }

    async fn actuate(&self, request: Request<v2::ActuateRequest>) -> Result<Response<v2::ActuateResponse>, Status> {
        let r = request.get_ref();
        let s = self.signal(r.signal_id.as_ref())?;
        if s.kind != SignalKind::Actuator {
            return Err(Status::invalid_argument(format!("`{}` is a {}, not an actuator: it cannot be actuated", s.path, s.kind.name())));
        }
        let v = convert::from_v2(&s.path, r.value.as_ref())?;
        self.state.write(Slot::Target, s, v).map_err(|e| convert::status(&e))?;
        Ok(Response::new(v2::ActuateResponse {}))
    }

    async fn list_metadata(&self, request: Request<v2::ListMetadataRequest>) -> Result<Response<v2::ListMetadataResponse>, Status> {
        let root = &request.get_ref().root;
        let metadata: Vec<_> = crate::paths::select(self.state.values.catalog(), root).into_iter().map(v2_metadata).collect();
        if metadata.is_empty() {
            return Err(Status::not_found(format!("no signal matches `{root}` in the VSS catalog")));
        }
        Ok(Response::new(v2::ListMetadataResponse { metadata }))
    }

    async fn publish_value(&self, request: Request<v2::PublishValueRequest>) -> Result<Response<v2::PublishValueResponse>, Status> {
        let r = request.get_ref();
        let s = self.signal(r.signal_id.as_ref())?;
        let v = convert::from_v2(&s.path, r.data_point.as_ref().and_then(|d| d.value.as_ref()))?;
        self.state.write(Slot::Current, s, v).map_err(|e| convert::status(&e))?;
        Ok(Response::new(v2::PublishValueResponse {}))
    }

    async fn get_server_info(&self, _: Request<v2::GetServerInfoRequest>) -> Result<Response<v2::GetServerInfoResponse>, Status> {
        Ok(Response::new(v2::GetServerInfoResponse { name: crate::SERVER_NAME.into(), version: env!("CARGO_PKG_VERSION").into(), commit_hash: String::new() }))
    }
}
