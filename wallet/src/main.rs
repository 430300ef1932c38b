//! `wallet --committee committee.toml --key account.key <command>`: the payer's command line.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use flashmesh_core::{Committee, Genesis, Keypair, PublicKey, Tag};
use flashmesh_transport::UdpTransport;
use flashmesh_wallet::{CommitteeClient, PayOptions, Wallet, WalletDir, read_key, write_key};

/// The Flash-Mesh wallet: keys, balances and payments against a committee of anchors.
#[derive(Debug, Parser)]
#[command(name = "wallet", version)]
struct Args {
    /// The committee file (authorities, weights, addresses).
    #[arg(long)]
    committee: PathBuf,
    /// The account's key file.
    #[arg(long)]
    key: PathBuf,
    /// Where the wallet keeps its pending payment and history [default: KEY with extension .wallet].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Genesis file, to resolve recipients given by tag [default: genesis.toml beside the committee file].
    #[arg(long)]
    genesis: Option<PathBuf>,
    /// The current epoch.
    #[arg(long, default_value_t = 0)]
    epoch: u32,
    /// Milliseconds of silence before a request is retransmitted.
    #[arg(long, default_value_t = 200)]
    retry_ms: u64,
    /// Seconds allowed for each phase of a payment.
    #[arg(long, default_value_t = 5)]
    timeout_s: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Creates a new key file at --key.
    Keygen,
    /// Prints the account's public key and tag.
    Address,
    /// Asks every authority for the balance; prints the one a quorum agrees on.
    Balance {
        /// Token id.
        #[arg(long, default_value_t = 0)]
        token: u32,
    },
    /// Pays an amount to a recipient (public key, or tag of an account in the genesis file).
    Pay {
        /// Recipient: 64 hex characters of public key, or 16 of tag.
        #[arg(long)]
        to: String,
        /// Amount to pay.
        #[arg(long)]
        amount: u64,
        /// Token id.
        #[arg(long, default_value_t = 0)]
        token: u32,
        /// UDP address of the payee's device, which also receives the certificate.
        #[arg(long)]
        payee_addr: Option<std::net::SocketAddr>,
    },
    /// Finishes a payment left pending by an interrupted run, if any.
    Resume,
    /// Waits for certificates paying this account (the payee's side) and verifies them.
    Receive {
        /// UDP address to listen on (give it to payers as --payee-addr).
        #[arg(long)]
        listen: std::net::SocketAddr,
        /// Stop after this many valid payments.
        #[arg(long, default_value_t = 1)]
        count: usize,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 60)]
        wait_s: u64,
    },
    /// Lists finished payments.
    History,
    /// Withdraws an amount to an account on the primary ledger through a gateway of the
    /// committee file (finishing an interrupted withdrawal first).
    Withdraw {
        /// The account on the primary ledger (1 to 64 bytes of text, e.g. an IBAN).
        #[arg(long)]
        to: String,
        /// Amount to withdraw.
        #[arg(long)]
        amount: u64,
        /// Token id.
        #[arg(long, default_value_t = 0)]
        token: u32,
        /// The gateway's name in the committee file [default: its first gateway].
        #[arg(long)]
        gateway: Option<String>,
    },
    /// Moves the account to a neighbour committee (named in this committee file's
    /// [[neighbours]]) with its balances; use that committee's file from then on.
    Handoff {
        /// The committee file of the committee to move to.
        #[arg(long)]
        to_committee: PathBuf,
        /// Tokens whose balances move (repeat for several).
        #[arg(long = "token", default_values_t = [0u32])]
        tokens: Vec<u32>,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();
    if let Command::Keygen = args.command {
        let key = Keypair::generate().context("generating a key")?;
        write_key(&args.key, &key)?;
        println!("wrote {}", args.key.display());
        println!("public key {}", key.public().to_hex());
        println!("tag        {}", key.tag().to_hex());
        return Ok(());
    }
    let key = read_key(&args.key)?;
    if let Command::Address = args.command {
        println!("public key {}", key.public().to_hex());
        println!("tag        {}", key.tag().to_hex());
        return Ok(());
    }
    let committee_text = std::fs::read_to_string(&args.committee)
        .with_context(|| format!("reading {}", args.committee.display()))?;
    let committee = Committee::from_toml(&committee_text)?;
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| args.key.with_extension("wallet"));
    let dir = WalletDir::open(&data_dir)?;
    if let Command::History = args.command {
        let entries = dir.history()?;
        if entries.is_empty() {
            println!("no payments yet");
        }
        for e in entries {
            println!(
                "nonce {:>4}  {:>10} (token {}) to {}  certificate {}  {:.1} ms",
                e.nonce,
                e.amount,
                e.token,
                &e.recipient[..16],
                &e.certificate[..16],
                e.finality_ms
            );
        }
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let bind = match &args.command {
            Command::Receive { listen, .. } => *listen,
            _ => "0.0.0.0:0".parse()?,
        };
        let transport = Arc::new(UdpTransport::bind(bind).await?);
        let gateways = committee.gateways().to_vec();
        let client = CommitteeClient::new(committee, transport)?;
        let opts = PayOptions {
            retry_interval: Duration::from_millis(args.retry_ms),
            phase_timeout: Duration::from_secs(args.timeout_s),
            epoch: args.epoch,
            payee: match &args.command {
                Command::Pay { payee_addr, .. } => *payee_addr,
                _ => None,
            },
        };
        let mut wallet = Wallet::new(key, client, dir, opts);
        match args.command {
            Command::Balance { token } => {
                let report = wallet.balance(token).await?;
                match report.agreed {
                    Some((next, balance)) => {
                        println!("balance {balance} (token {token}), next nonce {next}")
                    }
                    None => println!("no quorum agrees on the balance"),
                }
                for v in report.disagreeing() {
                    println!(
                        "  DISAGREES: {} says balance {} next nonce {}",
                        v.authority, v.balance, v.next_sequence
                    );
                }
                for s in &report.silent {
                    println!("  no answer from {s}");
                }
                if report.agreed.is_none() {
                    bail!("no quorum agrees on the account's state");
                }
            }
            Command::Pay {
                ref to,
                amount,
                token,
                ..
            } => {
                let recipient = resolve_recipient(to, &args)?;
                let p = wallet.pay(recipient, amount, token).await?;
                print_payment(&p);
            }
            Command::Receive { count, wait_s, .. } => {
                let deadline = std::time::Instant::now() + Duration::from_secs(wait_s);
                let account = wallet.account();
                for _ in 0..count {
                    match flashmesh_wallet::next_payment(wallet.client(), &account, deadline)
                        .await?
                    {
                        Some(r) => println!(
                            "received {} (token {}) from {}  certificate {}",
                            r.amount,
                            r.token,
                            r.payer.to_hex(),
                            r.certificate.digest().to_hex()
                        ),
                        None => bail!("no valid certificate within {wait_s} s"),
                    }
                }
            }
            Command::Withdraw {
                ref to,
                amount,
                token,
                ref gateway,
            } => {
                let gw = match gateway {
                    Some(name) => gateways.iter().find(|g| &g.name == name),
                    None => gateways.first(),
                }
                .context("the committee file names no such gateway ([[gateways]])")?;
                let w = wallet
                    .withdraw(token, amount, to.as_bytes().to_vec(), gw)
                    .await?;
                let s = &w.settlement;
                println!(
                    "withdrew {} (token {}) to {:?} with nonce {}",
                    s.amount, s.token, to, s.nonce
                );
                println!(
                    "settled by {} reference {} at {} ms{}",
                    gw.name,
                    s.reference,
                    s.settled_at_ms,
                    if s.first { "" } else { " (settled earlier)" }
                );
                println!("withdrawal  {}", s.withdrawal.to_hex());
                println!("took        {:.2} ms", w.latency.as_secs_f64() * 1000.0);
            }
            Command::Handoff {
                ref to_committee,
                ref tokens,
            } => {
                let text = std::fs::read_to_string(to_committee)
                    .with_context(|| format!("reading {}", to_committee.display()))?;
                let to = Committee::from_toml(&text)
                    .with_context(|| format!("parsing {}", to_committee.display()))?;
                let h = wallet.handoff(&to, tokens).await?;
                let o = h.certificate.order.order();
                println!(
                    "moved to {} with nonce {} (next nonce there {})",
                    h.to,
                    o.nonce,
                    o.nonce + 1
                );
                for (t, a) in &o.balances {
                    println!("  balance {a} (token {t})");
                }
                println!("certificate {}", h.certificate.digest().to_hex());
                println!(
                    "took        {:.2} ms (votes {:.2}, left {:.2}, arrived {:.2})",
                    h.total().as_secs_f64() * 1000.0,
                    h.certify.as_secs_f64() * 1000.0,
                    h.leave.as_secs_f64() * 1000.0,
                    h.arrive.as_secs_f64() * 1000.0
                );
                println!("use --committee {} from now on", to_committee.display());
            }
            Command::Resume => match wallet.finish_pending().await? {
                Some(p) => print_payment(&p),
                None => println!("nothing pending"),
            },
            Command::Keygen | Command::Address | Command::History => unreachable!("handled above"),
        }
        anyhow::Ok(())
    })
}

fn print_payment(p: &flashmesh_wallet::Payment) {
    let o = p.order.order();
    println!(
        "paid {} (token {}) to {} with nonce {}{}",
        o.amount,
        o.token,
        o.recipient.to_hex(),
        o.nonce,
        if p.resumed { " (resumed)" } else { "" }
    );
    println!("certificate {}", p.certificate_digest.to_hex());
    println!("signers     {}", p.certificate.signatures.len());
    println!(
        "finality    {:.2} ms (certificate after {:.2} ms)",
        p.finality_latency.as_secs_f64() * 1000.0,
        p.certificate_latency.as_secs_f64() * 1000.0
    );
    println!(
        "catch-up    {} push(es) to authorities that were behind",
        p.catch_up_pushes
    );
    for r in &p.refusals {
        println!("  refused by {}: {} ({})", r.authority, r.code, r.detail);
    }
}

fn resolve_recipient(to: &str, args: &Args) -> anyhow::Result<PublicKey> {
    let to = to.trim();
    if to.len() == 64 {
        return Ok(PublicKey::from_hex(to)?);
    }
    let tag = Tag::from_hex(to).context("--to must be a 64-hex public key or a 16-hex tag")?;
    let genesis_path = args.genesis.clone().unwrap_or_else(|| {
        args.committee
            .parent()
            .unwrap_or(Path::new("."))
            .join("genesis.toml")
    });
    let text = std::fs::read_to_string(&genesis_path).with_context(|| {
        format!(
            "resolving tag {to}: cannot read genesis file {}",
            genesis_path.display()
        )
    })?;
    let genesis = Genesis::from_toml(&text)?;
    genesis
        .balances
        .iter()
        .map(|b| b.account)
        .find(|a| a.tag() == tag)
        .with_context(|| format!("no account with tag {to} in {}", genesis_path.display()))
}
