//! Flash-Mesh core: identities, signatures, the BCB wire format, FastPay messages, committees
//! and the authority state machine. Pure: no sockets, no files, no clocks (the epoch is always
//! passed in); the small host helpers every binary shares (Unix time, owner-only key files,
//! Prometheus text) live apart in [`host`], and test fixtures in `testing` (feature
//! `test-fixtures`).
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
//!   `handle_verified_order`, `handle_verified_order_presigned`, `handle_certificate`, `handle_verified_certificate`,
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
//! `handle_verified_order` / `handle_verified_certificate` under it (or sign the vote outside
//! too and call `handle_verified_order_presigned`, leaving only bookkeeping under the lock).
//!
//! Crypto ceiling (verify-then-sign): `signed.check()` then
//! `Vote::sign(signed.digest(), nonce, &key)`.
//!
//! # Example: a committee of one settles a payment
//!
//! ```
//! use flashmesh_core::*;
//!
//! let anchor = Keypair::from_seed(&[1; 32]);
//! let (alice, bob) = (Keypair::from_seed(&[2; 32]), Keypair::from_seed(&[3; 32]));
//! let committee = Committee::new(vec![AuthorityInfo {
//!     name: "anchor-0".into(),
//!     public_key: anchor.public(),
//!     weight: 1,
//!     address: "127.0.0.1:47474".into(),
//! }])
//! .unwrap();
//! let genesis = Genesis::uniform([alice.public()], 100);
//! let mut authority = Authority::new(anchor, committee.clone(), &genesis).unwrap();
//! let epoch = 5;
//!
//! // The wallet signs an order and sends it as an ORDER datagram.
//! let order = SignedOrder::sign(
//!     TransferOrder {
//!         sender: alice.public(),
//!         recipient: bob.public(),
//!         token: DEFAULT_TOKEN,
//!         amount: 40,
//!         nonce: 0,
//!         epoch,
//!         ttl: 2,
//!     },
//!     &alice,
//! );
//! let datagram = Envelope::order(order).encode().unwrap();
//!
//! // The anchor handles it: persist `handled.persist`, then send `handled.reply`.
//! let handled = authority.handle_datagram(&datagram, epoch);
//! assert!(handled.persist.is_some());
//! let reply = Envelope::decode(&handled.reply.unwrap().encode().unwrap()).unwrap();
//! let Message::Vote(vote) = reply.message else { panic!("expected a vote") };
//!
//! // The wallet assembles the certificate and sends it.
//! let mut votes = QuorumCollector::new(order, &committee);
//! assert!(votes.add(&vote, &committee).unwrap());
//! let cert = votes.certificate().unwrap();
//! let handled = authority.handle_datagram(&Envelope::certificate(cert, epoch).encode().unwrap(), epoch);
//! assert!(handled.result.is_ok());
//! assert_eq!(authority.account(&bob.public()).unwrap().balance(DEFAULT_TOKEN), 40);
//! ```

pub mod authority;
pub mod codec;
pub mod committee;
pub mod digest;
pub mod envelope;
pub mod error;
pub mod host;
mod key_cache;
pub mod keys;
pub mod messages;
pub mod planted;
#[cfg(any(test, feature = "test-fixtures"))]
pub mod testing;
pub mod wire;

pub use authority::{
    AccountState, Authority, AuthorityError, CheckedAhead, Genesis, GenesisBalance, GenesisError,
    Handled, Outcome, PendingVote, RecoveryError, StateChange,
};
pub use codec::{Decode, DecodeError, Encode};
pub use committee::{AuthorityInfo, Committee, CommitteeError, GatewayInfo, Member, Neighbour};
pub use digest::Digest;
pub use envelope::{EncodeError, Envelope, Message};
pub use error::{ErrorCode, Rejection, check_epoch};
pub use keys::{AccountTag, AuthorityTag, KeyError, Keypair, PublicKey, SenderTag, Signature, Tag};
pub use messages::{
    Certificate, DEFAULT_TOKEN, ErrorMessage, Query, QueryReply, QuorumCollector, Receipt,
    SignedOrder, SignerEntry, TokenId, TransferOrder, Verified, Vote,
};
pub use wire::{BCB_UDP_PORT, HEADER_LEN, Header, HeaderRepr, MAX_DATAGRAM_LEN, MsgType};
