//! Forwarding pipeline configs: verifying a pushed config (P4 source as the device
//! config, a P4Info that must describe that program), saving it, committing it to
//! the device, and reconciling run-time state across a change.

use std::sync::Arc;

use flashmesh_p4::exec::{Switch, SwitchConfig};
use flashmesh_p4::ir::Program;
use flashmesh_proto::p4::config::v1::P4Info;
use flashmesh_proto::p4::v1::ForwardingPipelineConfig;
use flashmesh_proto::p4info_index::P4InfoIndex;

use super::compare;
use super::status::P4rtError;
use super::translate::state_error;
use crate::device::Device;

/// A verified pipeline: what the client pushed and what it compiled to.
#[derive(Debug)]
pub struct Installed {
    /// The config as pushed (P4Info, P4 source, cookie); returned by Get.
    pub config: ForwardingPipelineConfig,
    pub program: Arc<Program>,
    pub index: Arc<P4InfoIndex>,
}

/// The active and the saved (verified, not yet committed) pipelines.
#[derive(Debug, Default)]
pub struct PipelineState {
    pub active: Option<Arc<Installed>>,
    pub saved: Option<Arc<Installed>>,
}

/// The P4Info the engine derives for a program's source (ids as p4c assigns them).
pub fn derived_p4info(source: &str) -> Result<P4Info, P4rtError> {
    flashmesh_p4::p4info_source("device_config.p4", source)
        .map_err(|d| P4rtError::invalid(format!("the P4 program does not compile:\n{d}")))
}

/// The P4 source carried as the device config, or why it is not one.
pub fn device_config_source(bytes: &[u8]) -> Result<&str, P4rtError> {
    if bytes.is_empty() {
        return Err(P4rtError::invalid(
            "p4_device_config is empty: flash-switch takes the P4_16 source of the program as its device config",
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| {
        P4rtError::invalid(
            "p4_device_config is not UTF-8 text: flash-switch takes the P4_16 source of the program as its device config",
        )
    })?;
    let start = text.trim_start();
    if start.starts_with('{') || start.starts_with('[') {
        return Err(P4rtError::invalid(
            "p4_device_config looks like a BMv2 JSON: flash-switch compiles P4_16 itself and takes the \
             program's .p4 source as its device config (pass the .p4 file, not the p4c output)",
        ));
    }
    Ok(text)
}

/// Compiles a pushed config and checks its P4Info against the program (no cache).
fn compile_and_check(config: &ForwardingPipelineConfig) -> Result<Installed, P4rtError> {
    let sent = config
        .p4info
        .as_ref()
        .ok_or_else(|| P4rtError::invalid("the forwarding pipeline config has no P4Info"))?;
    let source = device_config_source(&config.p4_device_config)?;
    let program = flashmesh_p4::compile_str("device_config.p4", source)
        .map_err(|d| P4rtError::invalid(format!("the P4 program does not compile:\n{d}")))?;
    let diffs = compare::differences(sent, &derived_p4info(source)?);
    if !diffs.is_empty() {
        let shown: Vec<&str> = diffs.iter().take(8).map(String::as_str).collect();
        let more = if diffs.len() > shown.len() {
            format!("; and {} more", diffs.len() - shown.len())
        } else {
            String::new()
        };
        return Err(P4rtError::invalid(format!(
            "the P4Info does not match the program ({} differences): {}{more}",
            diffs.len(),
            shown.join("; ")
        )));
    }
    Ok(Installed {
        config: config.clone(),
        index: Arc::new(P4InfoIndex::new(sent)),
        program,
    })
}

/// Pipelines this process already verified, by their P4Info and device config bytes: in an
/// embedded mesh of many switches every one is pushed the same pipeline, which compiles once.
/// A few entries at most (the oldest goes first).
static VERIFIED: std::sync::Mutex<Vec<Verified>> = std::sync::Mutex::new(Vec::new());

/// A verified pipeline's key bytes, program and P4Info index.
type Verified = (Vec<u8>, Arc<Program>, Arc<P4InfoIndex>);

/// How many verified pipelines [`verify`] keeps.
const VERIFIED_KEPT: usize = 4;

/// Compiles a pushed config and checks its P4Info against the program, or takes the compiled
/// program of an identical config verified before in this process.
pub fn verify(config: &ForwardingPipelineConfig) -> Result<Installed, P4rtError> {
    use prost::Message;
    let p4info = config
        .p4info
        .as_ref()
        .map(Message::encode_to_vec)
        .unwrap_or_default();
    let mut key = Vec::with_capacity(8 + p4info.len() + config.p4_device_config.len());
    key.extend_from_slice(&(p4info.len() as u64).to_be_bytes());
    key.extend_from_slice(&p4info);
    key.extend_from_slice(&config.p4_device_config);
    {
        let cache = VERIFIED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, program, index)) = cache.iter().find(|(k, _, _)| *k == key) {
            return Ok(Installed {
                config: config.clone(),
                program: program.clone(),
                index: index.clone(),
            });
        }
    }
    let installed = compile_and_check(config)?;
    let mut cache = VERIFIED.lock().unwrap_or_else(|e| e.into_inner());
    if cache.len() >= VERIFIED_KEPT {
        cache.remove(0);
    }
    cache.push((key, installed.program.clone(), installed.index.clone()));
    Ok(installed)
}

fn engine_config(device: &Device) -> SwitchConfig {
    SwitchConfig {
        cpu_port: device.cpu_port(),
        priority_queues: device.priority_queues().max(1),
        ..SwitchConfig::default()
    }
}

/// The pipeline of a program the device was started with, described by its own
/// derived P4Info (as if a controller had pushed that P4Info and the source).
pub fn adopt(program: Arc<Program>, source: &str) -> Result<Installed, P4rtError> {
    let p4info = derived_p4info(source)?;
    Ok(Installed {
        index: Arc::new(P4InfoIndex::new(&p4info)),
        config: ForwardingPipelineConfig {
            p4info: Some(p4info),
            p4_device_config: source.as_bytes().to_vec(),
            cookie: None,
        },
        program,
    })
}

/// Makes `new` the device's pipeline with fresh state.
pub fn commit(device: &Device, new: &Installed) {
    device.set_pipeline(new.program.clone());
}

/// Makes `new` the device's pipeline keeping the run-time state that still applies:
/// the same program keeps everything; another program gets the old table entries and
/// default actions replayed (tables and actions matched by id). Fails, leaving the old
/// pipeline in place, when some entry does not fit the new program.
pub fn reconcile(
    device: &Device,
    old: Option<&Installed>,
    new: &Installed,
) -> Result<(), P4rtError> {
    let Some(old) = old else {
        commit(device, new);
        return Ok(());
    };
    if old.config.p4_device_config == new.config.p4_device_config {
        return Ok(());
    }
    let mut fresh = Switch::new(new.program.clone(), engine_config(device));
    let swapped = device.with_switch(|current| -> Result<bool, P4rtError> {
        let Some(current) = current else { return Ok(false) };
        for e in &current.read_entries(None).map_err(state_error)? {
            let Some(table) = new.index.tables().get(e.table_id) else { continue };
            if table.is_const {
                continue;
            }
            match fresh.insert_entry(e) {
                Ok(()) | Err(flashmesh_p4::exec::StateError::AlreadyExists) => {}
                Err(err) => {
                    return Err(P4rtError::invalid(format!(
                        "cannot reconcile: an entry of table {} does not fit the new program: {err}",
                        table.name
                    )));
                }
            }
            if let Some(counter) = e.counter {
                let _ = fresh.write_direct_counter(e.table_id, &e.matches, e.priority, counter);
            }
        }
        for table_id in old.index.tables().ids().filter(|t| new.index.tables().contains(*t)) {
            let default = current.read_default_entry(table_id).map_err(state_error)?;
            // A const default action in the new program stays as compiled.
            let _ = fresh.set_default_action(table_id, &default.action);
        }
        *current = fresh;
        Ok(true)
    })?;
    if !swapped {
        commit(device, new);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_config_must_be_p4_source() {
        let json = br#"  {"header_types": []}"#;
        let e = device_config_source(json).unwrap_err();
        assert_eq!(e.code, tonic::Code::InvalidArgument);
        assert!(e.message.contains("BMv2 JSON"), "{}", e.message);
        assert!(device_config_source(&[0xff, 0xfe]).is_err());
        assert!(device_config_source(b"").is_err());
        assert_eq!(
            device_config_source(b"#include <core.p4>").unwrap(),
            "#include <core.p4>"
        );
    }
}
