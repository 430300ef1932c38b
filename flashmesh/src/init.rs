//! `flashmesh committee init`: writes a committee to a directory and explains how to run it.

use std::fmt::Write;
use std::path::Path;

use merchant_anchor::{InitOptions, LocalCommittee, init_committee};

/// Writes the committee and returns the layout and the instructions to print.
pub fn committee_init(out: &Path, opts: &InitOptions) -> anyhow::Result<(LocalCommittee, String)> {
    let lc = init_committee(out, opts)?;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "wrote a committee of {} authorities (quorum {}) and {} accounts with {} each to {}",
        lc.committee.len(),
        lc.committee.quorum(),
        lc.accounts.len(),
        opts.balance,
        out.display()
    );
    let _ = writeln!(s, "\nstart each anchor (one terminal each, or append &):");
    for (cfg_path, cfg) in lc.anchor_config_files.iter().zip(&lc.anchors) {
        let _ = writeln!(
            s,
            "  cargo run --release -p merchant-anchor -- --config {}    # BCB udp://{}  admin http://{}",
            cfg_path.display(),
            cfg.listen,
            cfg.admin
        );
    }
    let committee = lc.committee_file.display();
    if let (Some(a0), Some(a1)) = (lc.account_key_files.first(), lc.accounts.get(1)) {
        let _ = writeln!(s, "\nthen pay and check balances:");
        let _ = writeln!(
            s,
            "  cargo run --release -p flashmesh-wallet -- --committee {committee} --key {} balance",
            a0.display()
        );
        let _ = writeln!(
            s,
            "  cargo run --release -p flashmesh-wallet -- --committee {committee} --key {} pay --to {} --amount 10",
            a0.display(),
            a1.tag().to_hex()
        );
        let _ = writeln!(
            s,
            "  cargo run --release -p flashmesh-wallet -- --committee {committee} --key {} history",
            a0.display()
        );
    }
    if let Some(cfg) = lc.anchors.first() {
        let _ = writeln!(
            s,
            "\nadmin API: curl http://{0}/healthz  http://{0}/status  http://{0}/metrics",
            cfg.admin
        );
    }
    Ok((lc, s))
}

/// Adds committee `b` (its authorities) to `a`'s file as neighbour `b_name`, and `a` to `b`'s
/// as `a_name`, replacing an earlier entry of the same committee. Both files are rewritten
/// whole; neither is touched unless both parse and the result is valid.
pub fn link_committees(a: &Path, a_name: &str, b: &Path, b_name: &str) -> anyhow::Result<()> {
    use anyhow::Context;
    use flashmesh_core::{Committee, Neighbour};
    use std::sync::Arc;
    let read = |p: &Path| -> anyhow::Result<Committee> {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        Committee::from_toml(&text).with_context(|| format!("parsing {}", p.display()))
    };
    let (ca, cb) = (read(a)?, read(b)?);
    let bare = |c: &Committee| -> anyhow::Result<Committee> {
        Ok(Committee::new(
            c.members().iter().map(|m| m.info().clone()).collect(),
        )?)
    };
    let add = |c: &Committee, name: &str, other: &Committee| -> anyhow::Result<Committee> {
        let id = other.id();
        let mut ns: Vec<Neighbour> = c
            .neighbours()
            .iter()
            .filter(|n| n.committee.id() != id && n.name != name)
            .cloned()
            .collect();
        ns.push(Neighbour {
            name: name.to_owned(),
            committee: Arc::new(bare(other)?),
        });
        Ok(c.clone().with_neighbours(ns)?)
    };
    let (na, nb) = (add(&ca, b_name, &cb)?, add(&cb, a_name, &ca)?);
    std::fs::write(a, na.to_toml()).with_context(|| format!("writing {}", a.display()))?;
    std::fs::write(b, nb.to_toml()).with_context(|| format!("writing {}", b.display()))?;
    Ok(())
}
