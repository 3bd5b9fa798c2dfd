//! Executing control-plane commands on the Host, each command id at most once.

use crate::Shared;
use silverline_manifest::ApplicationManifest;
use silverline_proto::{Ack, Command, CommandId, CommandKind, DeployModule};
use std::collections::{HashMap, VecDeque};
use std::path::Path;

/// Results of recently executed commands, so a re-delivered command is answered, not re-run.
#[derive(Default)]
pub(crate) struct Done {
    results: HashMap<CommandId, Ack>,
    order: VecDeque<CommandId>,
}

const REMEMBERED: usize = 4096;

impl Done {
    fn get(&self, id: &CommandId) -> Option<Ack> {
        self.results.get(id).cloned()
    }

    fn put(&mut self, ack: Ack) {
        if self.order.len() == REMEMBERED {
            if let Some(old) = self.order.pop_front() {
                self.results.remove(&old);
            }
        }
        self.order.push_back(ack.command.clone());
        self.results.insert(ack.command.clone(), ack);
    }
}

pub(crate) fn execute(shared: &Shared, cmd: Command) -> Ack {
    if let Some(mut earlier) = shared.done.lock().get(&cmd.id) {
        earlier.duplicate = true;
        return earlier;
    }
    let result = match &cmd.kind {
        CommandKind::Deploy(d) => deploy(shared, d),
        CommandKind::Delete { module } => {
            shared.host.remove(module);
            Ok(())
        }
        CommandKind::SetChannelActive { module, channel, active, from_activation: None } => {
            shared.host.set_channel_active(module, channel, *active).map(|_| ()).map_err(|e| format!("{e:#}"))
        }
        CommandKind::SetChannelActive { module, channel, active, from_activation: Some(k) } => {
            shared.host.set_channel_active_from(module, channel, *active, *k).map_err(|e| format!("{e:#}"))
        }
        // Taken before they reach execution, and not acknowledged (lib.rs).
        CommandKind::Lease { .. } | CommandKind::Register => Ok(()),
    };
    if let Err(e) = &result {
        tracing::warn!("command {} failed: {e}", cmd.id);
    }
    let ack = Ack { command: cmd.id, ok: result.is_ok(), error: result.err(), duplicate: false };
    shared.done.lock().put(ack.clone());
    ack
}

fn deploy(shared: &Shared, d: &DeployModule) -> Result<(), String> {
    if let Some(running) = shared.host.module_status(&d.module) {
        // Idempotent: the same module is already here.
        if running.sha256 == d.sha256 {
            return Ok(());
        }
        return Err(format!("`{}` already runs here with another version ({})", d.module, running.sha256));
    }
    let manifest = ApplicationManifest::from_str(&d.manifest.to_string(), Path::new("/"))
        .map_err(|e| format!("invalid module manifest: {e}"))?;
    let spec = manifest.modules.first().ok_or("the manifest holds no module")?;
    // A secured Host fetches only from the registry it was enrolled with, never from a URL a
    // message names.
    let (registry, token) = match &shared.guard {
        Some(g) => (g.credentials().registry.as_str(), Some(g.credentials().registry_token.as_str())),
        None => (d.blob_url.as_str(), None),
    };
    let bytes = shared.blobs.get(&shared.http, &d.sha256, registry, token).map_err(|e| format!("{e:#}"))?;
    if let Some(guard) = &shared.guard {
        guard.admit(spec, &bytes)?;
    }
    shared.host.deploy(d.module.clone(), &d.app, spec, &bytes).map(|_| ()).map_err(|e| e.to_string())
}
