//! Forwarding pipelines per target and their cookie. flash-switch takes the P4_16 source as its
//! device config; BMv2 `simple_switch_grpc` takes p4c's BMv2 JSON. The P4Info comes from p4c's
//! `.p4info.txtpb` (either target) and is sent with the device config.

use std::path::{Path, PathBuf};

use flashmesh_proto::p4::config::v1::P4Info;
use prost::Message;
use serde::{Deserialize, Serialize};

use super::error::P4rtError;

/// Which kind of switch, and where its pipeline files are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TargetConfig {
    /// flash-switch: device config = the P4 source.
    FlashSwitch {
        /// The `.p4` program.
        program: PathBuf,
        /// Its P4Info (text format); derived from the source with the P4 engine if absent.
        #[serde(default)]
        p4info: Option<PathBuf>,
    },
    /// BMv2 simple_switch_grpc: device config = p4c's BMv2 JSON.
    Bmv2 {
        /// p4c's `.p4info.txtpb`.
        p4info: PathBuf,
        /// p4c's BMv2 JSON.
        json: PathBuf,
    },
}

/// A pipeline ready to push: P4Info, device config and its cookie.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// The P4Info.
    pub p4info: P4Info,
    /// Target-specific device config bytes.
    pub device_config: Vec<u8>,
    /// Hash of both, identifying this pipeline on the switch.
    pub cookie: u64,
}

/// Domain of the pipeline cookie hash.
pub const COOKIE_DOMAIN: &str = "flashmesh 2026-11 forwarding pipeline cookie v1";

/// The cookie of a pipeline: the first 8 bytes of a keyed blake3 over the encoded P4Info and the
/// device config, each length-prefixed.
pub fn cookie(p4info: &P4Info, device_config: &[u8]) -> u64 {
    let mut h = blake3::Hasher::new_derive_key(COOKIE_DOMAIN);
    let info = p4info.encode_to_vec();
    h.update(&(info.len() as u64).to_be_bytes());
    h.update(&info);
    h.update(&(device_config.len() as u64).to_be_bytes());
    h.update(device_config);
    let d = h.finalize();
    u64::from_be_bytes(d.as_bytes()[..8].try_into().expect("8 bytes"))
}

fn read(path: &Path) -> Result<Vec<u8>, P4rtError> {
    std::fs::read(path).map_err(|e| P4rtError::PipelineFile {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

impl Pipeline {
    /// A pipeline from its parts.
    pub fn new(p4info: P4Info, device_config: Vec<u8>) -> Self {
        let cookie = cookie(&p4info, &device_config);
        Self {
            p4info,
            device_config,
            cookie,
        }
    }

    /// Parses P4Info text and pairs it with a device config.
    pub fn from_text(p4info_text: &str, device_config: Vec<u8>) -> Result<Self, P4rtError> {
        let info = flashmesh_proto::p4info_from_text(p4info_text).map_err(|e| {
            P4rtError::PipelineFile {
                path: "<p4info>".into(),
                message: e.to_string(),
            }
        })?;
        Ok(Self::new(info, device_config))
    }

    /// A flash-switch pipeline from a `.p4` file, its P4Info derived by the P4 engine.
    pub fn from_source(path: &Path) -> Result<Self, P4rtError> {
        let bytes = read(path)?;
        let text = std::str::from_utf8(&bytes).map_err(|_| P4rtError::PipelineFile {
            path: path.display().to_string(),
            message: "not UTF-8".into(),
        })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let info = super::derive::p4info_from_source(&name, text)?;
        Ok(Self::new(info, bytes))
    }

    /// Loads the files of a target.
    pub fn load(target: &TargetConfig) -> Result<Self, P4rtError> {
        let (info_path, config_path) = match target {
            TargetConfig::FlashSwitch {
                program,
                p4info: None,
            } => return Self::from_source(program),
            TargetConfig::FlashSwitch {
                program,
                p4info: Some(p4info),
            } => (p4info, program),
            TargetConfig::Bmv2 { p4info, json } => (p4info, json),
        };
        let text = String::from_utf8(read(info_path)?).map_err(|_| P4rtError::PipelineFile {
            path: info_path.display().to_string(),
            message: "not UTF-8".into(),
        })?;
        let info =
            flashmesh_proto::p4info_from_text(&text).map_err(|e| P4rtError::PipelineFile {
                path: info_path.display().to_string(),
                message: e.to_string(),
            })?;
        Ok(Self::new(info, read(config_path)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_depends_on_both_parts() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/tables.p4info.txtpb"
        ))
        .unwrap();
        let a = Pipeline::from_text(&text, b"program a".to_vec()).unwrap();
        let b = Pipeline::from_text(&text, b"program b".to_vec()).unwrap();
        assert_ne!(a.cookie, b.cookie);
        let mut info = a.p4info.clone();
        info.tables.pop();
        assert_ne!(cookie(&info, b"program a"), a.cookie);
        assert_eq!(
            Pipeline::from_text(&text, b"program a".to_vec())
                .unwrap()
                .cookie,
            a.cookie
        );
    }

    #[test]
    fn loads_target_files_or_says_which_is_missing() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
        let t = TargetConfig::FlashSwitch {
            program: PathBuf::from(dir).join("tables.p4"),
            p4info: Some(PathBuf::from(dir).join("tables.p4info.txtpb")),
        };
        let p = Pipeline::load(&t).unwrap();
        assert!(!p.p4info.tables.is_empty());
        let derived = Pipeline::load(&TargetConfig::FlashSwitch {
            program: PathBuf::from(dir).join("tables.p4"),
            p4info: None,
        })
        .unwrap();
        assert_eq!(derived.device_config, p.device_config);
        assert_eq!(derived.p4info.tables.len(), p.p4info.tables.len());
        let bad = TargetConfig::Bmv2 {
            p4info: PathBuf::from(dir).join("tables.p4info.txtpb"),
            json: PathBuf::from(dir).join("missing.json"),
        };
        let e = Pipeline::load(&bad).unwrap_err().to_string();
        assert!(e.contains("missing.json"), "{e}");
        let t: TargetConfig =
            toml::from_str("kind = \"bmv2\"\np4info = \"a\"\njson = \"b\"\n").unwrap();
        assert!(matches!(t, TargetConfig::Bmv2 { .. }));
    }
}

#[cfg(test)]
mod bmv2_tests {
    use super::*;

    /// A BMv2 target takes p4c's JSON as device config and p4c's P4Info (the reference corpus
    /// beside the project holds both).
    #[test]
    fn loads_a_bmv2_target_from_p4c_output() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/bmv2-reference");
        let info = PathBuf::from(dir).join("tables.p4info.txtpb");
        if !info.exists() {
            println!("skipped: no BMv2 reference corpus at {dir}");
            return;
        }
        let p = Pipeline::load(&TargetConfig::Bmv2 {
            p4info: info,
            json: PathBuf::from(dir).join("tables.json"),
        })
        .unwrap();
        assert!(p.device_config.starts_with(b"{"));
        let ix = crate::p4rt::P4InfoIndex::new(&p.p4info);
        assert!(crate::p4rt::P4InfoNames::table(&ix, "MyIngress.t_lpm").is_ok());
    }
}
