//! Sealing the device share d1' under the PIN (SPEC §5).
//!
//! ```text
//! salt = 16 random bytes
//! key  = Argon2id(password = PIN digits (ASCII), salt, m, t, p,
//!                 associated data = key_id (16 bytes) || purpose tag (1 byte),
//!                 no secret, version 0x13, tag length 32)            RFC 9106 §3.1
//! c    = d1' XOR ChaCha20(key, nonce = 0^96, initial counter 0)     RFC 8439 §2.4
//! ```
//!
//! Stored: salt, the Argon2 parameters and c. **Nothing else that depends on the PIN**: no
//! MAC, no checksum, no key-check value, no version tag derived from the PIN. c is exactly as
//! long as d1' ((|n1|+128)/8 bytes, a public length fixed by n1).
//!
//! Consequently unsealing *never fails* for a wrong PIN: any PIN yields a (|n1|+128)-bit
//! string, and for a wrong PIN that string is the real d1' XOR two independent pseudorandom
//! keystreams, i.e. indistinguishable from uniform. A stolen device therefore offers no
//! offline PIN-guessing oracle; only the server's check in SPEC §4.5 tells a right PIN from a
//! wrong one, and the server counts and locks (property (d), SPEC §1, §7).
//!
//! Binding key_id and purpose into Argon2id's associated data makes each split key's
//! derivation distinct even if a user reuses a PIN and a salt were ever repeated.
//!
//! # What Argon2id is for here
//!
//! Property (d) comes from the absence of redundancy, not from the KDF's cost. The cost only
//! matters if an attacker holds *both* the sealed share and the server's d1'' (device and
//! server database stolen together): each PIN guess then costs one Argon2id evaluation. With
//! PINs of 4-12 digits this is a delay, not a wall; see [`Argon2Params::RECOMMENDED`].
//!
//! # Encoding (format version 1)
//!
//! ```text
//! offset  size  field
//!      0     4  magic "SRSA"
//!      4     1  format version 0x01
//!      5     1  type 0x10 (sealed device share)
//!      6     4  Argon2 m_cost in KiB, u32 big-endian
//!     10     4  Argon2 t_cost (passes), u32 big-endian
//!     14     4  Argon2 p_cost (lanes), u32 big-endian
//!     18     2  L = ciphertext length in bytes, u16 big-endian (= (|n1|+128)/8, public)
//!     20    16  salt
//!     36     L  ciphertext c
//! ```
//!
//! Total 36 + L bytes. Decoding rejects wrong magic/version/type, parameters outside
//! [`Argon2Params::new`]'s bounds, L outside [`MIN_SHARE_LEN`]..=[`MAX_SHARE_LEN`], truncated
//! input and trailing bytes.

use core::fmt;

use argon2::{Algorithm, Argon2, AssociatedData, Block, ParamsBuilder, Version};
use chacha20::ChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use rand_core::CryptoRng;
use zeroize::{Zeroize, Zeroizing};

use crate::device::pin::{KeyPurpose, Pin};
use crate::error::{DecodeError, DecodeErrorKind, Error};
use crate::secret::SecretBytes;
use crate::wire::encoding::{MessageType, Reader, Writer};

/// Length of the random Argon2 salt (SPEC §5).
pub const SALT_LEN: usize = 16;

/// Length of a key id, bound into the Argon2id associated data (SPEC §5).
pub const KEY_ID_LEN: usize = 16;

/// Longest device share: (4096 + 128) / 8 bytes (SPEC §2, §3.2).
pub const MAX_SHARE_LEN: usize = 528; // (4096 + 128) / 8

/// Shortest device share accepted: (64 + 128) / 8 bytes. Real keys use (2048 + 128) / 8 or
/// more; the smaller sizes exist for tests.
pub const MIN_SHARE_LEN: usize = 24; // (64 + 128) / 8

/// Bytes before the ciphertext: magic, version, type, three u32 parameters, u16 length, salt.
const HEADER_LEN: usize = 4 + 1 + 1 + 3 * 4 + 2 + SALT_LEN;

/// Argon2id cost parameters (RFC 9106 §3.1). Public; stored next to the sealed share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Argon2Params {
    m_cost_kib: u32,
    t_cost: u32,
    p_cost: u32,
}

impl Argon2Params {
    /// The default: m = 19 MiB (19 456 KiB), t = 2, p = 1.
    ///
    /// This is the OWASP Password Storage Cheat Sheet's first Argon2id configuration (and the
    /// RustCrypto `argon2` default). RFC 9106 §4's "second recommended option" (64 MiB, t = 3)
    /// is also acceptable but takes several hundred milliseconds on low-end phones, and
    /// nothing here needs that margin: a stolen device alone gives no oracle (SPEC §5), so
    /// the cost only slows an attacker who also holds the server's share (see the module
    /// docs). Measured (opt-level 3, x86-64, a shared 2-core machine under load ~11): about
    /// 63 ms per seal or unseal with these parameters, 390 ms with 64 MiB / t = 3 / p = 4.
    pub const RECOMMENDED: Argon2Params = Argon2Params {
        m_cost_kib: 19 * 1024,
        t_cost: 2,
        p_cost: 1,
    };

    /// Largest memory cost accepted: 2 GiB (RFC 9106 §4's first recommended option).
    pub const MAX_M_COST_KIB: u32 = 2 * 1024 * 1024;
    /// Largest number of passes accepted.
    pub const MAX_T_COST: u32 = 32;
    /// Largest number of lanes accepted.
    pub const MAX_P_COST: u32 = 16;

    /// Parameters with explicit costs: `m_cost_kib` KiB of memory (at least 8 per lane, at
    /// most [`MAX_M_COST_KIB`](Self::MAX_M_COST_KIB)), `t_cost` passes (1..=32) and `p_cost`
    /// lanes (1..=16). Lanes are computed one after another (no threads).
    ///
    /// Errors: [`Error::InvalidRequest`] naming the parameter that is out of range.
    pub fn new(m_cost_kib: u32, t_cost: u32, p_cost: u32) -> Result<Self, Error> {
        match Self::check(m_cost_kib, t_cost, p_cost) {
            Ok(p) => Ok(p),
            Err(field) => Err(Error::InvalidRequest(field)),
        }
    }

    /// ⚠️ **Insecure**: the cheapest parameters Argon2id allows (m = 8 KiB, t = 1, p = 1),
    /// for tests that derive many keys. Never use them for a real share.
    pub const fn insecure_fast_for_tests() -> Self {
        Argon2Params {
            m_cost_kib: 8,
            t_cost: 1,
            p_cost: 1,
        }
    }

    /// Memory cost in KiB.
    pub const fn m_cost_kib(&self) -> u32 {
        self.m_cost_kib
    }

    /// Number of passes.
    pub const fn t_cost(&self) -> u32 {
        self.t_cost
    }

    /// Number of lanes.
    pub const fn p_cost(&self) -> u32 {
        self.p_cost
    }

    /// The bounds shared by [`Argon2Params::new`] and the decoder; on failure, the field.
    fn check(m_cost_kib: u32, t_cost: u32, p_cost: u32) -> Result<Self, &'static str> {
        if !(1..=Self::MAX_P_COST).contains(&p_cost) {
            return Err("argon2.p_cost");
        }
        if !(1..=Self::MAX_T_COST).contains(&t_cost) {
            return Err("argon2.t_cost");
        }
        // RFC 9106 §3.1: m >= 8 * p.
        if m_cost_kib < 8 * p_cost || m_cost_kib > Self::MAX_M_COST_KIB {
            return Err("argon2.m_cost");
        }
        Ok(Argon2Params {
            m_cost_kib,
            t_cost,
            p_cost,
        })
    }
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self::RECOMMENDED
    }
}

/// The device share d1' sealed under a PIN (SPEC §5): salt, Argon2 parameters, ciphertext.
///
/// Contains nothing that depends on the PIN except the ciphertext, which is as long as the
/// share. `Clone`/`PartialEq` are provided because this is the at-rest form, safe to copy
/// and compare (it is not a secret on its own: without the server's check no PIN guess can
/// be verified against it). `Debug` prints the parameters and the length only.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedShare {
    salt: [u8; SALT_LEN],
    params: Argon2Params,
    ciphertext: Vec<u8>,
}

impl SealedShare {
    /// Seals `share` (the device share d1', exactly (|n1|+128)/8 bytes) under `pin` for the
    /// key `key_id` of purpose `purpose` (SPEC §5). Draws a fresh 16-byte salt from `rng`.
    ///
    /// Errors (none depends on the PIN's value):
    /// - [`Error::InvalidRequest`] if `pin` was checked for another purpose than `purpose`,
    ///   or `share` is shorter than [`MIN_SHARE_LEN`] or longer than [`MAX_SHARE_LEN`];
    /// - [`Error::InvalidRequest`] if the Argon2 memory cannot be allocated.
    pub fn seal(
        rng: &mut impl CryptoRng,
        pin: &Pin,
        key_id: &[u8; KEY_ID_LEN],
        purpose: KeyPurpose,
        share: &[u8],
        params: Argon2Params,
    ) -> Result<SealedShare, Error> {
        check_purpose(pin, purpose)?;
        if !(MIN_SHARE_LEN..=MAX_SHARE_LEN).contains(&share.len()) {
            return Err(Error::InvalidRequest("device share length out of range"));
        }
        let mut salt = [0u8; SALT_LEN];
        rng.fill_bytes(&mut salt);
        let c = xor_keystream(pin, &salt, key_id, purpose, &params, share)?;
        Ok(SealedShare {
            salt,
            params,
            ciphertext: c.as_bytes().to_vec(),
        })
    }

    /// Unseals with `pin`: d1' if the PIN is right, otherwise a uniformly random-looking
    /// string of the same length (SPEC §5). **Never fails because of a wrong PIN**, and the
    /// result carries no sign of whether the PIN was right; only the server can tell
    /// (SPEC §4.5).
    ///
    /// Errors (none depends on the PIN's value): [`Error::InvalidRequest`] if `pin` was
    /// checked for another purpose than `purpose`, or if the Argon2 memory cannot be
    /// allocated.
    pub fn unseal(
        &self,
        pin: &Pin,
        key_id: &[u8; KEY_ID_LEN],
        purpose: KeyPurpose,
    ) -> Result<SecretBytes, Error> {
        check_purpose(pin, purpose)?;
        xor_keystream(
            pin,
            &self.salt,
            key_id,
            purpose,
            &self.params,
            &self.ciphertext,
        )
    }

    /// The Argon2 salt.
    pub fn salt(&self) -> &[u8; SALT_LEN] {
        &self.salt
    }

    /// The Argon2 parameters.
    pub fn params(&self) -> Argon2Params {
        self.params
    }

    /// The ciphertext c = d1' XOR keystream.
    pub fn ciphertext(&self) -> &[u8] {
        &self.ciphertext
    }

    /// Length of [`to_bytes`](Self::to_bytes)'s output: 36 + the share's length.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.ciphertext.len()
    }

    /// The canonical encoding (module docs, format version 1).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(MessageType::SealedShare);
        self.write_body(&mut w);
        w.finish_public()
    }

    /// Appends the fields after the header (also used inside the device record).
    pub(crate) fn write_body(&self, w: &mut Writer) {
        w.u32(self.params.m_cost_kib)
            .u32(self.params.t_cost)
            .u32(self.params.p_cost);
        // At most MAX_SHARE_LEN (528), checked at construction.
        w.u16(self.ciphertext.len() as u16)
            .fixed(&self.salt)
            .fixed(&self.ciphertext);
    }

    /// Decodes [`to_bytes`](Self::to_bytes)'s format strictly, without panicking.
    ///
    /// Errors: [`Error::Decode`] naming the field (`magic`, `version`, `type`,
    /// `argon2.m_cost`/`t_cost`/`p_cost`, `sealed_share.length`, `.salt`, `.ciphertext`, `end`)
    /// and the kind (`BadMagic`, `BadVersion`, `BadType`, `OutOfRange`, `Truncated`,
    /// `TrailingBytes`).
    pub fn from_bytes(bytes: &[u8]) -> Result<SealedShare, Error> {
        let mut r = Reader::new(bytes, MessageType::SealedShare)?;
        let sealed = Self::read_body(&mut r)?;
        r.finish()?;
        Ok(sealed)
    }

    /// Reads the fields after the header (also used inside the device record).
    pub(crate) fn read_body(r: &mut Reader<'_>) -> Result<SealedShare, Error> {
        let m = r.u32("argon2.m_cost")?;
        let t = r.u32("argon2.t_cost")?;
        let p = r.u32("argon2.p_cost")?;
        let params = Argon2Params::check(m, t, p)
            .map_err(|field| decode_err(field, DecodeErrorKind::OutOfRange))?;
        let len = usize::from(r.u16("sealed_share.length")?);
        if !(MIN_SHARE_LEN..=MAX_SHARE_LEN).contains(&len) {
            return Err(decode_err(
                "sealed_share.length",
                DecodeErrorKind::OutOfRange,
            ));
        }
        let salt = r.array::<SALT_LEN>("sealed_share.salt")?;
        let ciphertext = r.take(len, "sealed_share.ciphertext")?.to_vec();
        Ok(SealedShare {
            salt,
            params,
            ciphertext,
        })
    }
}

impl fmt::Debug for SealedShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedShare")
            .field("params", &self.params)
            .field("len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

fn check_purpose(pin: &Pin, purpose: KeyPurpose) -> Result<(), Error> {
    if pin.purpose() == purpose {
        Ok(())
    } else {
        Err(Error::InvalidRequest(
            "PIN purpose does not match the key's purpose",
        ))
    }
}

/// data XOR ChaCha20(Argon2id(PIN, salt, params, key_id || tag), nonce 0), into a wiping
/// buffer. The same function seals and unseals.
fn xor_keystream(
    pin: &Pin,
    salt: &[u8; SALT_LEN],
    key_id: &[u8; KEY_ID_LEN],
    purpose: KeyPurpose,
    params: &Argon2Params,
    data: &[u8],
) -> Result<SecretBytes, Error> {
    let key = derive_key(pin, salt, key_id, purpose, params)?;

    // Work on whole 64-byte blocks so the cipher keeps no leftover keystream in its internal
    // buffer; the padding is wiped before truncating.
    let len = data.len();
    let mut buf = vec![0u8; len.div_ceil(64) * 64];
    if let Some(head) = buf.get_mut(..len) {
        head.copy_from_slice(data);
    }
    let key_ref: &[u8; 32] = &key;
    let mut cipher = ChaCha20::new(key_ref.into(), &[0u8; 12].into());
    cipher.apply_keystream(&mut buf);
    drop(cipher); // ChaCha20's state is wiped on drop (chacha20 `zeroize` feature).
    if let Some(tail) = buf.get_mut(len..) {
        tail.zeroize();
    }
    buf.truncate(len);
    Ok(SecretBytes::from_vec(buf))
}

/// key = Argon2id(PIN, salt, params, AD = key_id || purpose tag), 32 bytes (SPEC §5).
fn derive_key(
    pin: &Pin,
    salt: &[u8; SALT_LEN],
    key_id: &[u8; KEY_ID_LEN],
    purpose: KeyPurpose,
    params: &Argon2Params,
) -> Result<Zeroizing<[u8; 32]>, Error> {
    const ARGON2_FAILED: Error = Error::InvalidRequest("Argon2 parameters rejected");

    let mut ad = [0u8; KEY_ID_LEN + 1];
    let (id_part, tag_part) = ad.split_at_mut(KEY_ID_LEN);
    id_part.copy_from_slice(key_id);
    tag_part.copy_from_slice(&[purpose.tag()]);
    let ad = AssociatedData::new(&ad).map_err(|_| ARGON2_FAILED)?;
    let argon_params = ParamsBuilder::new()
        .m_cost(params.m_cost_kib)
        .t_cost(params.t_cost)
        .p_cost(params.p_cost)
        .data(ad)
        .output_len(32)
        .build()
        .map_err(|_| ARGON2_FAILED)?;

    // Our own memory, so it can be wiped: the `argon2` crate's internal allocation is freed
    // without wiping, and its blocks are PIN-derived.
    let blocks = argon_params.block_count();
    let mut memory: Zeroizing<Vec<Block>> = Zeroizing::new(Vec::new());
    memory
        .try_reserve_exact(blocks)
        .map_err(|_| Error::InvalidRequest("cannot allocate Argon2 memory"))?;
    memory.resize(blocks, Block::new());

    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params);
    let mut key = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into_with_memory(pin.as_bytes(), salt, key.as_mut(), memory.as_mut_slice())
        .map_err(|_| ARGON2_FAILED)?;
    Ok(key)
}

fn decode_err(field: &'static str, kind: DecodeErrorKind) -> Error {
    Error::Decode(DecodeError::new(field, kind))
}
