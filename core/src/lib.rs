//! Flash-Mesh core: identities, signatures, the BCB wire format, FastPay messages, committees
//! and the authority state machine. Pure: no sockets, no files, no clocks (the epoch is always
//! passed in).
//!
//! # Modules
//!
//! - [`keys`]: [`Keypair`] (`from_seed`, `generate`, `to_hex`/`from_hex` for key files,
//!   `sign_digest`), [`PublicKey`] (32 bytes, hex, `tag()`), [`Tag`] (8 bytes =
//!   first 8 of blake3(pk); aliases [`AccountTag`], [`AuthorityTag`], [`SenderTag`]),
//!   [`Signature`].
//! - [`digest`]: [`Digest`] and the domain strings; `Digest::of(domain, bytes)`.
//! - [`wire`]: the 32-byte FMH header: zero-copy [`wire::Header`] view (`new_checked`,
//!   getters/setters), plain [`wire::HeaderRepr`] (`parse`, `emit`, `to_bytes`),
//!   [`wire::MsgType`], constants [`wire::BCB_UDP_PORT`], [`wire::HEADER_LEN`],
//!   [`wire::MAX_DATAGRAM_LEN`], `wire::MSG_*`, and [`wire::FIELDS`] (name, bits) in order.
//! - [`codec`]: the canonical body encoding ([`codec::Encode`] / [`codec::Decode`],
//!   `to_bytes`/`from_bytes`) and [`codec::DecodeError`].
//! - [`messages`]: [`TransferOrder`], [`SignedOrder`] (`sign`, `verify`, `digest`),
//!   [`Vote`] (`sign`, `verify`), [`Certificate`] (`new`, `check`/`verify` = one batch
//!   verify), [`QuorumCollector`] (wallet: add votes until quorum → certificate),
//!   [`Receipt`], [`Query`], [`QueryReply`], [`ErrorMessage`], [`Verified`].
//! - [`envelope`]: [`Envelope`] = header + [`Message`]; `Envelope::order`,
//!   `Envelope::certificate`, `Envelope::query`, `Envelope::reply`, `encode`, `decode`
//!   (never panics; typed errors).
//! - [`error`]: [`ErrorCode`] (wire code of every rejection reason, `name()` for metrics),
//!   [`Rejection`] (typed refusal, `code()`), [`check_epoch`] (the switch's window).
//! - [`committee`]: [`Committee`] (`new`, `from_toml`, `to_toml`, `quorum`, `member`),
//!   [`AuthorityInfo`] {name, public_key, weight, address}.
//! - [`authority`]: [`Authority`] (`new(key, committee, &genesis)`, `handle_order`,
//!   `handle_verified_order`, `handle_certificate`, `handle_verified_certificate`,
//!   `handle_query`, `handle_datagram(bytes, epoch) -> Handled`, `apply_change` for recovery,
//!   `mark_persisted`), [`Outcome`] {reply, persist}, [`StateChange`] (Lock / Apply,
//!   canonically encodable), [`Genesis`].
//!
//! Encoding of any message or [`StateChange`]: `use flashmesh_core::{Encode, Decode};` then
//! `x.to_bytes()` / `T::from_bytes(&bytes)` (strict: trailing bytes are an error).
//!
//! # Main flows
//!
//! Wallet: `SignedOrder::sign(order, &key)` → `Envelope::order(o).encode()` to every authority
//! → decode replies, `QuorumCollector::add(&vote, &committee)` → `certificate()` →
//! `Envelope::certificate(cert, epoch)` to every authority → `Receipt::verify`.
//!
//! Anchor: `let h = authority.handle_datagram(&bytes, epoch);` → persist `h.persist` (its
//! `to_bytes()`) durably → send `h.reply` (`encode()`) → count `h.request_type` and
//! `h.result`. On start: `Authority::new` then `apply_change` for each persisted change in
//! order. For multi-core: `SignedOrder::verify` / `Certificate::verify` outside a lock, then
//! `handle_verified_order` / `handle_verified_certificate` under it.
//!
//! Crypto ceiling (verify-then-sign): `signed.check()` then
//! `Vote::sign(signed.digest(), nonce, &key)`.

pub mod authority;
pub mod codec;
pub mod committee;
pub mod digest;
pub mod envelope;
pub mod error;
pub mod keys;
pub mod messages;
pub mod wire;

pub use authority::{
    AccountState, Authority, AuthorityError, Genesis, GenesisBalance, GenesisError, Handled,
    Outcome, PendingVote, RecoveryError, StateChange,
};
pub use codec::{Decode, DecodeError, Encode};
pub use committee::{AuthorityInfo, Committee, CommitteeError, Member};
pub use digest::Digest;
pub use envelope::{EncodeError, Envelope, Message};
pub use error::{ErrorCode, Rejection, check_epoch};
pub use keys::{AccountTag, AuthorityTag, KeyError, Keypair, PublicKey, SenderTag, Signature, Tag};
pub use messages::{
    Certificate, DEFAULT_TOKEN, ErrorMessage, Query, QueryReply, QuorumCollector, Receipt,
    SignedOrder, SignerEntry, TokenId, TransferOrder, Verified, Vote,
};
pub use wire::{BCB_UDP_PORT, HEADER_LEN, Header, HeaderRepr, MAX_DATAGRAM_LEN, MsgType};
