//! Certificate signing requests for a split key (feature `csr`): an adapter that lets
//! `x509-cert`'s [`RequestBuilder`](x509_cert::request::RequestBuilder) (or any builder that
//! takes a [`Signer`]) sign with the device and the server together.
//!
//! The CSR is signed with the composite key itself (RFC 2986 §3: proof of possession), so its
//! signature is made by the two parties like any other (SPEC §4): the adapter hashes the
//! `CertificationRequestInfo` and hands the digest to a closure that runs the signing session,
//! then verifies the result under the composite public key before the builder sees it.

use core::cell::RefCell;
use core::fmt;

use signature::{Keypair, Signer};
use spki::{AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier};

use crate::error::Result;
use crate::rsa::algorithm::signature_algorithm_identifier;
use crate::rsa::padding::Scheme;
use crate::rsa::public_key::PublicKey;
use crate::rsa::signature::Signature;
use crate::rsa::verify::verify;

/// The signing closure's error, as the `source` of the [`signature::Error`] the builder
/// returns.
#[derive(Debug)]
struct SignError(crate::Error);

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "two-party signing failed: {}", self.0)
    }
}

impl core::error::Error for SignError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// A [`Signer`] for `x509-cert` builders whose signatures are made by a split key's two
/// parties: `sign(scheme, digest)` runs the device and the server on `digest` (SPEC §4) and
/// returns the signature bytes.
///
/// - [`Keypair::verifying_key`] is the composite [`PublicKey`], which the builder writes as
///   the request's `SubjectPublicKeyInfo`;
/// - [`DynSignatureAlgorithmIdentifier`] names the scheme (`shaXXXWithRSAEncryption`, or
///   `id-RSASSA-PSS` with the SPEC §4.1 parameters);
/// - [`Signer::try_sign`] hashes the bytes to sign with the scheme's hash, calls `sign`, and
///   **verifies** the returned signature under the public key and scheme (SPEC §4.6) before
///   the builder embeds it: a wrong party, a wrong key or a fault yields an error, never a
///   request that a CA would refuse.
///
/// The closure is `FnMut` (a session has state); the signer keeps it in a `RefCell`, since
/// [`Signer`] takes `&self`. A closure that re-enters the same signer gets an error.
///
/// # Example
///
/// ```no_run
/// use std::str::FromStr;
/// use split_rsa::csr::SplitSigner;
/// use split_rsa::csr::x509_cert::builder::Builder;
/// use split_rsa::csr::x509_cert::name::Name;
/// use split_rsa::csr::x509_cert::request::RequestBuilder;
/// use split_rsa::{HashAlg, PublicKey, Scheme, Signature};
///
/// # fn run_session(_: Scheme, _: &[u8]) -> split_rsa::Result<Vec<u8>> { unimplemented!() }
/// # fn demo(public_key: PublicKey) -> Result<(), Box<dyn std::error::Error>> {
/// // `run_session` sends the digest to the device, which runs the signing protocol with the
/// // server (SPEC §4) and returns the signature.
/// let signer = SplitSigner::new(public_key, Scheme::Pss(HashAlg::Sha256), run_session);
/// let request = RequestBuilder::new(Name::from_str("CN=Alice Example,C=EE")?)?
///     .build::<_, Signature>(&signer)?;
/// # let _ = request;
/// # Ok(())
/// # }
/// ```
pub struct SplitSigner<F> {
    public_key: PublicKey,
    scheme: Scheme,
    sign: RefCell<F>,
}

impl<F> SplitSigner<F>
where
    F: FnMut(Scheme, &[u8]) -> Result<Vec<u8>>,
{
    /// A signer for `public_key` (the split key's composite key) that signs under `scheme` by
    /// calling `sign(scheme, digest)`.
    pub fn new(public_key: PublicKey, scheme: Scheme, sign: F) -> Self {
        Self {
            public_key,
            scheme,
            sign: RefCell::new(sign),
        }
    }

    /// The scheme the signatures are made under.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The composite public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// Gives the closure back.
    pub fn into_inner(self) -> F {
        self.sign.into_inner()
    }
}

impl<F> Signer<Signature> for SplitSigner<F>
where
    F: FnMut(Scheme, &[u8]) -> Result<Vec<u8>>,
{
    /// # Errors
    /// A [`signature::Error`] whose `source` is the closure's [`Error`](crate::Error) (wrapped
    /// with context) if the closure fails or the returned signature does not verify
    /// ([`Error::InvalidSignature`](crate::Error::InvalidSignature)), and an error without a
    /// source if the closure re-enters the signer.
    fn try_sign(&self, msg: &[u8]) -> signature::Result<Signature> {
        let digest = self.scheme.hash().digest(msg);
        let mut sign = self
            .sign
            .try_borrow_mut()
            .map_err(|_| signature::Error::new())?;
        let bytes = sign(self.scheme, &digest)
            .and_then(|s| verify(&self.public_key, self.scheme, &digest, &s).map(|()| s))
            .map_err(|e| signature::Error::from_source(SignError(e)))?;
        Signature::try_from(bytes)
    }
}

impl<F> Keypair for SplitSigner<F> {
    type VerifyingKey = PublicKey;

    fn verifying_key(&self) -> PublicKey {
        self.public_key.clone()
    }
}

impl<F> DynSignatureAlgorithmIdentifier for SplitSigner<F> {
    fn signature_algorithm_identifier(&self) -> spki::Result<AlgorithmIdentifierOwned> {
        signature_algorithm_identifier(self.scheme)
    }
}

impl<F> fmt::Debug for SplitSigner<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SplitSigner")
            .field("public_key", &self.public_key)
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}
