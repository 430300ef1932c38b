//! Funding certificates: a gateway's signed statement that it took `amount` of `token` in on
//! its primary ledger for `account` of one committee. Authorities apply a gateway's deposits in
//! sequence order, each once, and credit the account.
//!
//! Encoding: committee identity (32, [`crate::Committee::id`]), gateway key (32), account (32),
//! token (u32), amount (u64), sequence (u64, the gateway's deposit number for that committee,
//! from 0 without gaps), reference (32, a digest of the primary ledger's deposit reference),
//! then the gateway's signature over the domain-separated digest of those bytes.

use crate::codec::{Decode, DecodeError, Encode, Reader, Writer};
use crate::committee::Committee;
use crate::digest::{DOMAIN_FUNDING, Digest};
use crate::error::Rejection;
use crate::keys::{Keypair, PublicKey, SIGNATURE_LEN, Signature};
use crate::messages::{TokenId, Verified};

/// Encoded length of a [`Funding`].
pub const FUNDING_LEN: usize = 32 + 32 + 32 + 4 + 8 + 8 + 32;

/// What a gateway certifies about one deposit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Funding {
    pub committee: Digest,
    pub gateway: PublicKey,
    pub account: PublicKey,
    pub token: TokenId,
    pub amount: u64,
    pub sequence: u64,
    pub reference: Digest,
}

impl Encode for Funding {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.committee.encode_to(out);
        self.gateway.encode_to(out);
        self.account.encode_to(out);
        out.put_u32(self.token);
        out.put_u64(self.amount);
        out.put_u64(self.sequence);
        self.reference.encode_to(out);
    }
    fn encoded_len(&self) -> usize {
        FUNDING_LEN
    }
}

impl Decode for Funding {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Funding {
            committee: Digest::decode_from(r)?,
            gateway: PublicKey::decode_from(r)?,
            account: PublicKey::decode_from(r)?,
            token: r.u32()?,
            amount: r.u64()?,
            sequence: r.u64()?,
            reference: Digest::decode_from(r)?,
        })
    }
}

/// A funding statement with the gateway's signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FundingCertificate {
    funding: Funding,
    signature: Signature,
    digest: Digest,
}

impl FundingCertificate {
    /// Signs `funding` with the gateway's key.
    pub fn sign(funding: Funding, gateway: &Keypair) -> FundingCertificate {
        let digest = Digest::of(DOMAIN_FUNDING, &funding.to_bytes());
        FundingCertificate {
            funding,
            signature: gateway.sign_digest(&digest),
            digest,
        }
    }
    pub fn funding(&self) -> &Funding {
        &self.funding
    }
    /// The signed digest (what receipts for this deposit refer to).
    pub fn digest(&self) -> Digest {
        self.digest
    }
    /// Checks that the certificate is for `committee`, from a gateway it pins, for a positive
    /// amount, and signed by that gateway.
    pub fn check(&self, committee: &Committee) -> Result<(), Rejection> {
        let f = &self.funding;
        if f.committee != committee.id() {
            return Err(Rejection::WrongCommittee);
        }
        if committee.gateway_by_key(&f.gateway).is_none() {
            return Err(Rejection::UnknownGateway);
        }
        if f.amount == 0 {
            return Err(Rejection::InvalidOrder("amount is zero"));
        }
        if f.account.verifying_key().is_err() {
            return Err(Rejection::InvalidOrder("account is not a valid public key"));
        }
        f.gateway
            .verify_digest(&self.digest, &self.signature)
            .map_err(|_| Rejection::BadSignature)
    }
    /// [`FundingCertificate::check`], returning the certificate marked as verified.
    pub fn verify(self, committee: &Committee) -> Result<Verified<FundingCertificate>, Rejection> {
        self.check(committee)?;
        Ok(Verified(self))
    }
}

impl Encode for FundingCertificate {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.funding.encode_to(out);
        self.signature.encode_to(out);
    }
    fn encoded_len(&self) -> usize {
        FUNDING_LEN + SIGNATURE_LEN
    }
}

impl Decode for FundingCertificate {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let raw = r.take(FUNDING_LEN)?;
        let funding = Funding::from_bytes(raw)?;
        Ok(FundingCertificate {
            funding,
            signature: Signature::decode_from(r)?,
            digest: Digest::of(DOMAIN_FUNDING, raw),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::committee::GatewayInfo;
    use crate::testing::{authority_keys, committee_of};

    #[test]
    fn a_pinned_gateways_deposit_verifies_and_nothing_else_does() {
        let keys = authority_keys(4, 80);
        let gw = Keypair::from_seed(&[0x61; 32]);
        let c = committee_of(&keys, 1)
            .with_gateways(vec![GatewayInfo {
                name: "gw".into(),
                public_key: gw.public(),
                address: "127.0.0.1:47500".into(),
            }])
            .unwrap();
        let f = Funding {
            committee: c.id(),
            gateway: gw.public(),
            account: keys[0].public(),
            token: 0,
            amount: 500,
            sequence: 0,
            reference: Digest::of(DOMAIN_FUNDING, b"bank transfer 1"),
        };
        let cert = FundingCertificate::sign(f, &gw);
        let back = FundingCertificate::from_bytes(&cert.to_bytes()).unwrap();
        assert_eq!(back, cert);
        back.check(&c).unwrap();
        let stranger = Keypair::from_seed(&[0x62; 32]);
        let forged = FundingCertificate::sign(
            Funding {
                gateway: stranger.public(),
                ..f
            },
            &stranger,
        );
        assert_eq!(forged.check(&c), Err(Rejection::UnknownGateway));
        let other = committee_of(&keys[..3], 1);
        assert_eq!(cert.check(&other), Err(Rejection::WrongCommittee));
        let mut bytes = cert.to_bytes();
        bytes[100] ^= 1;
        assert_eq!(
            FundingCertificate::from_bytes(&bytes).unwrap().check(&c),
            Err(Rejection::BadSignature)
        );
        assert!(FundingCertificate::from_bytes(&bytes[..50]).is_err());
    }
}
