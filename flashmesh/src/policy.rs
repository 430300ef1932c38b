//! Operator tooling for signed policy bundles, behind `flashmesh policy new | sign | verify |
//! push` and `flashmesh operator keygen`.
//!
//! * Operator key file: the 32-byte ed25519 seed as hex on one line (mode 0600), the format of
//!   `flashmesh_controller::OperatorKey::from_hex`.
//! * Operators file (`ops.toml`): `keys = ["<public key hex>", ...]` and optionally
//!   `threshold = k`, either at the top level or in an `[operators]` table (so a controller's
//!   configuration file serves too).
//! * Bundles are TOML or JSON (JSON when the text starts with `{`); signing keeps the format.

use std::path::{Path, PathBuf};

use flashmesh_controller::policy::{ClassRule, VerifiedPolicy};
use flashmesh_controller::{OperatorKey, PolicyBundle, PolicyRefusal, PolicySettings};
use flashmesh_core::wire::MsgType;
use serde::{Deserialize, Serialize};

use crate::admin_client::{self, Answer, ClientError};

/// Why a policy tool failed.
#[derive(Debug, thiserror::Error)]
pub enum PolicyToolError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A bundle file that is not a bundle.
    #[error("{path}: {message}")]
    Bundle {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A key file or operators file that is not valid.
    #[error("{path}: {message}")]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The operators file gives no threshold and none was given on the command line.
    #[error("no threshold: pass --threshold or put `threshold = k` in the operators file")]
    NoThreshold,
    /// Settings out of range.
    #[error("invalid settings: {0}")]
    Settings(String),
    /// Refusing to overwrite a key.
    #[error("{0} exists; not overwriting an operator key")]
    Exists(PathBuf),
    /// The admin API could not be reached.
    #[error(transparent)]
    Client(#[from] ClientError),
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> PolicyToolError + '_ {
    move |source| PolicyToolError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The encoding of a bundle file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// TOML.
    Toml,
    /// JSON.
    Json,
}

impl Format {
    /// The format of `text` as [`PolicyBundle::parse`] decides it.
    pub fn of(text: &str) -> Self {
        if text.trim_start().starts_with('{') {
            Format::Json
        } else {
            Format::Toml
        }
    }

    /// `bundle` in this format.
    pub fn render(self, bundle: &PolicyBundle) -> String {
        match self {
            Format::Toml => bundle.to_toml(),
            Format::Json => bundle.to_json() + "\n",
        }
    }

    /// The HTTP content type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Toml => "application/toml",
            Format::Json => "application/json",
        }
    }
}

/// A message type by name (`order`, `vote`, ...: core's [`MsgType::name`], any case) or number.
pub fn parse_msg_type(s: &str) -> Result<u8, String> {
    let s = s.trim();
    if let Some(t) = MsgType::ALL
        .iter()
        .find(|t| t.name().eq_ignore_ascii_case(s))
    {
        return Ok(t.to_u8());
    }
    s.parse::<u8>().map_err(|_| {
        let names: Vec<&str> = MsgType::ALL.iter().map(|t| t.name()).collect();
        format!(
            "{s:?} is not a message type (a number or one of {})",
            names.join(", ")
        )
    })
}

/// A class rule `TYPE=CLASS:PRIORITY`, e.g. `vote=0:6` or `8=1:3`.
pub fn parse_class_rule(s: &str) -> Result<ClassRule, String> {
    let bad = || format!("{s:?} is not TYPE=CLASS:PRIORITY (e.g. vote=0:6)");
    let (t, rest) = s.split_once('=').ok_or_else(bad)?;
    let (c, p) = rest.split_once(':').ok_or_else(bad)?;
    Ok(ClassRule {
        msg_type: parse_msg_type(t)?,
        class: c.trim().parse().map_err(|_| bad())?,
        priority: p.trim().parse().map_err(|_| bad())?,
    })
}

/// A duration like `90s`, `15m`, `12h`, `30d` (plain numbers are seconds).
pub fn parse_duration_secs(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{s:?}: unit must be s, m, h or d")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too long"))
}

/// What `policy new` puts in the bundle; `None` keeps the default setting.
#[derive(Debug, Clone, Default)]
pub struct NewOptions {
    /// Bundle version (must be above the one in force where it is pushed).
    pub version: u64,
    /// Unix seconds of expiry.
    pub expires_at: u64,
    /// Free-form note.
    pub note: String,
    /// Class rules replacing the default rule of their message type (or added).
    pub classes: Vec<ClassRule>,
    /// Retransmissions allowed through per window.
    pub retry_allowance: Option<u8>,
    /// Epoch length, milliseconds.
    pub epoch_length_ms: Option<u64>,
    /// Probe interval, milliseconds.
    pub probe_interval_ms: Option<u64>,
    /// Missed probes before a link is down.
    pub probe_miss_count: Option<u32>,
    /// Penalty time of a blocked sender, seconds.
    pub penalty_secs: Option<u64>,
    /// Message types through the duplicate filter.
    pub dedup_types: Option<Vec<u8>>,
}

/// An unsigned bundle from the defaults and `opts`; the settings are validated.
pub fn new_bundle(opts: &NewOptions) -> Result<PolicyBundle, PolicyToolError> {
    let mut s = PolicySettings::default();
    for rule in &opts.classes {
        s.classes.retain(|r| r.msg_type != rule.msg_type);
        s.classes.push(*rule);
    }
    s.classes.sort_by_key(|r| r.msg_type);
    if let Some(v) = opts.retry_allowance {
        s.retry_allowance = v;
    }
    if let Some(v) = opts.epoch_length_ms {
        s.epoch_length_ms = v;
    }
    if let Some(v) = opts.probe_interval_ms {
        s.probe_interval_ms = v;
    }
    if let Some(v) = opts.probe_miss_count {
        s.probe_miss_count = v;
    }
    if let Some(v) = opts.penalty_secs {
        s.penalty_secs = v;
    }
    if let Some(v) = &opts.dedup_types {
        s.dedup_types = v.clone();
    }
    s.validate()
        .map_err(|e| PolicyToolError::Settings(e.to_string()))?;
    let mut b = PolicyBundle::new(opts.version, opts.expires_at, s);
    b.body.note = opts.note.clone();
    Ok(b)
}

/// Reads a bundle file (TOML or JSON).
pub fn read_bundle(path: &Path) -> Result<(PolicyBundle, Format), PolicyToolError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let bundle = PolicyBundle::parse(&text).map_err(|e| PolicyToolError::Bundle {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok((bundle, Format::of(&text)))
}

/// Writes `text` to `path` (created or replaced), with mode 0600 when `private`.
pub fn write_file(path: &Path, text: &str, private: bool) -> Result<(), PolicyToolError> {
    use flashmesh_core::host::files::{self, Existing};
    use std::io::Write;
    let mut f = files::create(path, Existing::Replace, private).map_err(io(path))?;
    f.write_all(text.as_bytes()).map_err(io(path))
}

/// Reads an operator key file (seed hex).
pub fn read_operator_key(path: &Path) -> Result<OperatorKey, PolicyToolError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    OperatorKey::from_hex(text.trim()).map_err(|e| PolicyToolError::Key {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Generates an operator key into `out` (never overwriting one). With `operators`, its public
/// key is also added to that operators file (created if missing).
pub fn keygen(out: &Path, operators: Option<&Path>) -> Result<OperatorKey, PolicyToolError> {
    if out.exists() {
        return Err(PolicyToolError::Exists(out.to_path_buf()));
    }
    let key = OperatorKey::generate().map_err(|e| PolicyToolError::Key {
        path: out.to_path_buf(),
        message: e.to_string(),
    })?;
    write_file(out, &format!("{}\n", key.seed_hex()), true)?;
    if let Some(ops_path) = operators {
        let mut ops = if ops_path.exists() {
            Operators::load(ops_path)?
        } else {
            Operators::default()
        };
        if !ops.keys.contains(&key.public_hex()) {
            ops.keys.push(key.public_hex());
        }
        let text = toml::to_string_pretty(&ops).map_err(|e| PolicyToolError::Key {
            path: ops_path.to_path_buf(),
            message: e.to_string(),
        })?;
        write_file(ops_path, &text, false)?;
    }
    Ok(key)
}

/// The pinned operators: public keys and optionally the threshold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operators {
    /// Public keys, hex.
    pub keys: Vec<String>,
    /// Signatures required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<usize>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OperatorsFile {
    Nested { operators: Operators },
    Flat(Operators),
}

impl Operators {
    /// Reads an operators file (top-level `keys`, or an `[operators]` table).
    pub fn load(path: &Path) -> Result<Self, PolicyToolError> {
        let text = std::fs::read_to_string(path).map_err(io(path))?;
        let file: OperatorsFile = toml::from_str(&text).map_err(|e| PolicyToolError::Key {
            path: path.to_path_buf(),
            message: format!("not an operators file (keys = [...], threshold = k): {e}"),
        })?;
        Ok(match file {
            OperatorsFile::Nested { operators } => operators,
            OperatorsFile::Flat(o) => o,
        })
    }
}

/// Verifies `bundle` offline as an anchor would: pinned `keys`, `threshold`, the version in
/// force (`None`: no replay check) and the clock `now` (unix seconds).
pub fn verify(
    bundle: &PolicyBundle,
    keys: &[String],
    threshold: usize,
    current_version: Option<u64>,
    now: u64,
) -> Result<Result<VerifiedPolicy, PolicyRefusal>, PolicyToolError> {
    let verifier =
        flashmesh_controller::PolicyVerifier::from_hex(keys, threshold).map_err(|e| {
            PolicyToolError::Key {
                path: PathBuf::from("<operators>"),
                message: e.to_string(),
            }
        })?;
    Ok(verifier.verify(bundle, current_version, now))
}

/// POSTs a bundle file's text to `admin`'s `/policy` with the bearer token.
pub async fn push(admin: &str, token: &str, text: &str) -> Result<Answer, PolicyToolError> {
    let format = Format::of(text);
    Ok(admin_client::request(
        admin,
        "POST",
        "/policy",
        Some(token),
        format.content_type(),
        text.as_bytes().to_vec(),
    )
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_types_rules_and_durations() {
        assert_eq!(parse_msg_type("vote"), Ok(2));
        assert_eq!(parse_msg_type("Certificate"), Ok(3));
        assert_eq!(parse_msg_type("8"), Ok(8));
        assert!(
            parse_msg_type("votes")
                .unwrap_err()
                .contains("payment_data")
        );
        assert_eq!(
            parse_class_rule("vote=0:6"),
            Ok(ClassRule {
                msg_type: 2,
                class: 0,
                priority: 6
            })
        );
        assert!(parse_class_rule("vote=0").is_err());
        assert!(parse_class_rule("vote:0=6").is_err());
        assert_eq!(parse_duration_secs("90"), Ok(90));
        assert_eq!(parse_duration_secs("2h"), Ok(7200));
        assert_eq!(parse_duration_secs("30d"), Ok(30 * 86_400));
        assert!(parse_duration_secs("3w").is_err());
        assert!(parse_duration_secs("h").is_err());
    }

    #[test]
    fn every_name_accepted_before_still_parses_to_its_number() {
        let before = [
            ("order", 1),
            ("vote", 2),
            ("certificate", 3),
            ("receipt", 4),
            ("query", 5),
            ("query_reply", 6),
            ("handoff", 7),
            ("payment_data", 8),
            ("probe", 9),
            ("error", 10),
            ("handoff_certificate", 11),
            ("withdrawal", 12),
            ("withdrawal_certificate", 13),
            ("deposit", 14),
            ("settlement", 15),
            ("heartbeat", 16),
            ("sync", 17),
        ];
        for (name, n) in before {
            assert_eq!(parse_msg_type(name), Ok(n), "{name}");
            assert_eq!(parse_msg_type(&name.to_uppercase()), Ok(n), "{name}");
        }
        assert_eq!(MsgType::ALL.len(), before.len());
    }

    #[test]
    fn new_bundle_overrides_defaults_and_validates() {
        let b = new_bundle(&NewOptions {
            version: 4,
            expires_at: 99,
            classes: vec![parse_class_rule("vote=0:6").unwrap()],
            retry_allowance: Some(5),
            dedup_types: Some(vec![1, 2, 3]),
            ..NewOptions::default()
        })
        .unwrap();
        assert_eq!(b.body.version, 4);
        assert_eq!(b.body.settings.retry_allowance, 5);
        let vote: Vec<_> = b
            .body
            .settings
            .classes
            .iter()
            .filter(|r| r.msg_type == 2)
            .collect();
        assert_eq!(vote.len(), 1);
        assert_eq!(vote[0].priority, 6);
        assert_eq!(
            b.body.settings.penalty_secs,
            PolicySettings::default().penalty_secs
        );
        assert!(b.signatures.is_empty());
        let bad = new_bundle(&NewOptions {
            classes: vec![parse_class_rule("vote=0:9").unwrap()],
            ..NewOptions::default()
        });
        assert!(matches!(bad, Err(PolicyToolError::Settings(_))));
    }

    #[test]
    fn operators_files_flat_or_nested_and_keygen_appends() {
        let dir = tempfile::tempdir().unwrap();
        let ops = dir.path().join("ops.toml");
        let k1 = keygen(&dir.path().join("op1.key"), Some(&ops)).unwrap();
        let k2 = keygen(&dir.path().join("op2.key"), Some(&ops)).unwrap();
        assert!(matches!(
            keygen(&dir.path().join("op1.key"), None),
            Err(PolicyToolError::Exists(_))
        ));
        let loaded = Operators::load(&ops).unwrap();
        assert_eq!(loaded.keys, vec![k1.public_hex(), k2.public_hex()]);
        assert_eq!(loaded.threshold, None);
        let back = read_operator_key(&dir.path().join("op2.key")).unwrap();
        assert_eq!(back.public_hex(), k2.public_hex());
        let nested = dir.path().join("ctl.toml");
        std::fs::write(
            &nested,
            format!(
                "name = \"x\"\n[operators]\nkeys = [\"{}\"]\nthreshold = 1\n",
                k1.public_hex()
            ),
        )
        .unwrap();
        let n = Operators::load(&nested).unwrap();
        assert_eq!(n.threshold, Some(1));
        std::fs::write(&nested, "keys = 3\n").unwrap();
        assert!(Operators::load(&nested).is_err());
    }

    #[test]
    fn verify_says_why() {
        let ops: Vec<OperatorKey> = (1..=3).map(|i| OperatorKey::from_seed([i; 32])).collect();
        let keys: Vec<String> = ops.iter().map(OperatorKey::public_hex).collect();
        let mut b = new_bundle(&NewOptions {
            version: 1,
            expires_at: flashmesh_core::host::clock::unix_secs() + 60,
            ..NewOptions::default()
        })
        .unwrap();
        let now = flashmesh_core::host::clock::unix_secs();
        let kind = |b: &PolicyBundle, k| verify(b, &keys, k, None, now).unwrap().unwrap_err();
        assert_eq!(kind(&b, 2).kind(), "unsigned");
        ops[0].sign(&mut b);
        assert_eq!(kind(&b, 2).kind(), "below_threshold");
        ops[1].sign(&mut b);
        assert!(verify(&b, &keys, 2, None, now).unwrap().is_ok());
        assert_eq!(kind(&b, 3).kind(), "below_threshold");
        let again = Format::Json.render(&b);
        assert_eq!(Format::of(&again), Format::Json);
        assert_eq!(PolicyBundle::parse(&again).unwrap(), b);
    }
}
