//! Sealing the device share d1' under the PIN (SPEC §5).
//!
//! ```text
//! salt = 16 random bytes
//! key  = Argon2i(password = PIN digits (ASCII), salt, m, t, p,
//!                associated data = key_id (16 bytes) || purpose tag (1 byte),
//!                no secret, version 0x13, tag length 32)             RFC 9106 §3.1
//! c    = d1' XOR ChaCha20(key, nonce = 0^96, initial counter 0)     RFC 8439 §2.4
//! ```
//!
//! Stored: salt, the KDF identifier and its parameters, and c. **Nothing else that depends on
//! the PIN**: no MAC, no checksum, no key-check value, no version tag derived from the PIN. c
//! is exactly as long as d1' ((|n1|+128)/8 bytes, a public length fixed by n1).
//!
//! Consequently unsealing *never fails* for a wrong PIN: any PIN yields a (|n1|+128)-bit
//! string, and for a wrong PIN that string is the real d1' XOR two independent pseudorandom
//! keystreams, i.e. indistinguishable from uniform. A stolen device therefore offers no
//! offline PIN-guessing oracle; only the server's check in SPEC §4.5 tells a right PIN from a
//! wrong one, and the server counts and locks (property (d), SPEC §1, §7).
//!
//! Binding key_id and purpose into Argon2i's associated data makes each split key's
//! derivation distinct even if a user reuses a PIN and a salt were ever repeated.
//!
//! # Why Argon2i, and at least 3 passes
//!
//! SPEC §1 (g) asks that no computation on a secret index memory by the secret. Argon2d and
//! the second half of Argon2id's first pass (and all its later passes) choose the block they
//! read from the previous block's contents, i.e. from the PIN: a cache-timing observer of the
//! unsealing learns a PIN-dependent address trace, which is an offline PIN oracle. Argon2i
//! (RFC 9106 §3.4.1.2) computes every reference address from public counters only (pass,
//! lane, slice, block index, m, t and the type), so its memory access pattern is the same for
//! every PIN. `tests/ct.rs` (`ct_unseal_argon2i_secret_pin`) checks this under valgrind
//! memcheck; its `#[ignore]`d control shows that Argon2id is flagged.
//!
//! Data-independent addressing makes Argon2i weaker than Argon2id against time-space
//! trade-off attacks (RFC 9106 §7), which more passes counter: SPEC §5 asks for at least 3,
//! the pass count of RFC 9106 §4's memory-constrained option. Every parameter set this
//! module accepts has `t_cost >= 3` ([`Argon2Params::MIN_T_COST`]), including
//! [`Argon2Params::insecure_fast_for_tests`]: one rule for everything the decoder reads, so
//! no record can carry fewer passes, at a cost of microseconds for the tiny test memory.
//!
//! # What the KDF's cost is for here
//!
//! Property (d) comes from the absence of redundancy, not from the KDF's cost. The cost only
//! matters if an attacker holds *both* the sealed share and the server's d1'' (device and
//! server database stolen together): each PIN guess then costs one Argon2i evaluation. With
//! PINs of 4-12 digits this is a delay, not a wall; see [`Argon2Params::RECOMMENDED`].
//!
//! # Caps on the parameters (a hostile record)
//!
//! The parameters are read from the stored record, and a record can be corrupted or
//! replaced. Without caps, a record asking for 2 GiB and 32 passes makes the phone allocate
//! 2 GiB (the app is killed by the low-memory killer) or compute for minutes on every
//! signature. The decoder (and [`Argon2Params::new`]) therefore refuse anything beyond what a
//! phone can afford, see [`Argon2Params::MAX_M_COST_KIB`], [`Argon2Params::MAX_T_COST`],
//! [`Argon2Params::MAX_P_COST`] and [`Argon2Params::MAX_WORK_KIB`].
//!
//! # Encoding (format version 1)
//!
//! ```text
//! offset  size  field
//!      0     4  magic "SRSA"
//!      4     1  format version 0x01
//!      5     1  type 0x10 (sealed device share)
//!      6     1  KDF identifier: 0x01 = Argon2i, version 0x13, 32-byte tag (RFC 9106)
//!      7     4  Argon2 m_cost in KiB, u32 big-endian
//!     11     4  Argon2 t_cost (passes), u32 big-endian
//!     15     4  Argon2 p_cost (lanes), u32 big-endian
//!     19     2  L = ciphertext length in bytes, u16 big-endian (= (|n1|+128)/8, public)
//!     21    16  salt
//!     37     L  ciphertext c
//! ```
//!
//! Total 37 + L bytes. Decoding rejects wrong magic/version/type, an unknown KDF identifier
//! (`UnknownTag`), parameters outside [`Argon2Params::new`]'s bounds, L outside
//! [`MIN_SHARE_LEN`]..=[`MAX_SHARE_LEN`], truncated input and trailing bytes.

use crate::error::RequestError;
use crate::error::decode_err;
use core::fmt;

use argon2::{Algorithm, Argon2, AssociatedData, Block, ParamsBuilder, Version};
use chacha20::ChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use rand_core::CryptoRng;
use zeroize::{Zeroize, Zeroizing};

use crate::device::pin::{KeyPurpose, Pin};
use crate::error::{DecodeErrorKind, Error};
use crate::secret::SecretBytes;
use crate::wire::encoding::{MessageType, Reader, Writer};

/// Length of the random Argon2 salt (SPEC §5).
pub const SALT_LEN: usize = 16;

/// Length of a key id, bound into the Argon2i associated data (SPEC §5).
pub const KEY_ID_LEN: usize = 16;

/// Longest device share: (4096 + 128) / 8 bytes (SPEC §2, §3.2).
pub const MAX_SHARE_LEN: usize = 528; // (4096 + 128) / 8

/// Shortest device share accepted: (64 + 128) / 8 bytes. Real keys use (2048 + 128) / 8 or
/// more; the smaller sizes exist for tests.
pub const MIN_SHARE_LEN: usize = 24; // (64 + 128) / 8

/// The KDF identifier byte of Argon2i, version 0x13 (RFC 9106), 32-byte tag: the only KDF
/// this version of the format knows. Decoding refuses any other identifier.
const KDF_ARGON2I_V13: u8 = 0x01;

/// Bytes before the ciphertext: magic, version, type, KDF id, three u32 parameters, u16
/// length, salt.
const HEADER_LEN: usize = 4 + 1 + 1 + 1 + 3 * 4 + 2 + SALT_LEN;

/// Argon2i cost parameters (RFC 9106 §3.1). Public; stored next to the sealed share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Argon2Params {
    m_cost_kib: u32,
    t_cost: u32,
    p_cost: u32,
}

impl Argon2Params {
    /// The default: Argon2i with m = 64 MiB (65 536 KiB), t = 3 passes, p = 1 lane.
    ///
    /// These are RFC 9106 §4's "second recommended option" (64 MiB, t = 3; the RFC pairs it
    /// with Argon2id and 4 lanes; here the lanes run one after another, so one lane gives
    /// the same work and memory with no parallelism for a defender who has none). Chosen by
    /// measurement (`benches/pin_kdf.rs`, `docs/benchmarks.md`): an unseal takes 0.17 s
    /// (criterion median) on one core of a shared AMD EPYC (Zen 4) server, so about
    /// 0.3–0.7 s on a phone core with 2–4 times less memory bandwidth: in the 0.3–1 s that a
    /// user accepts once per signature. 32 MiB / t = 3 would halve the time, and with it the
    /// work per guess of an attacker who holds the sealed share and the server's d1'' (see
    /// the module docs); 128 MiB or t = 6 would push low-end phones past one second.
    pub const RECOMMENDED: Argon2Params = Argon2Params {
        m_cost_kib: 64 * 1024,
        t_cost: 3,
        p_cost: 1,
    };

    /// Fewest passes accepted: 3 (SPEC §5). Argon2i's data-independent addressing is weaker
    /// against time-space trade-off attacks than Argon2id (RFC 9106 §7), and more passes
    /// counter them. Applies to every parameter set, the test one included.
    pub const MIN_T_COST: u32 = 3;

    /// Largest memory cost accepted: 256 MiB (262 144 KiB), four times [`Self::RECOMMENDED`].
    /// A phone must be able to allocate it in the foreground without the operating system
    /// killing the app: low-end Android phones have 2–3 GiB of RAM shared with everything
    /// else, and iOS ends foreground apps well below 1 GiB on 2 GiB devices.
    pub const MAX_M_COST_KIB: u32 = 256 * 1024;
    /// Largest number of passes accepted: 12 (four times [`Self::RECOMMENDED`]'s).
    pub const MAX_T_COST: u32 = 12;
    /// Largest number of lanes accepted: 4. Lanes are computed one after another here, so
    /// more lanes buy a defender nothing and only let an attacker's hardware parallelise.
    pub const MAX_P_COST: u32 = 4;
    /// Largest total work accepted, `m_cost_kib · t_cost` (KiB of memory filled over all
    /// passes): 768 MiB, four times [`Self::RECOMMENDED`]'s 192 MiB. The time of an unseal is
    /// proportional to it (0.81 s here at the cap, so about 1.6–3.2 s on a phone): a hostile
    /// record can slow the device down a few times, not for minutes.
    pub const MAX_WORK_KIB: u64 = 768 * 1024;

    /// Parameters with explicit costs: `m_cost_kib` KiB of memory (at least 8 per lane, at
    /// most [`MAX_M_COST_KIB`](Self::MAX_M_COST_KIB)), `t_cost` passes
    /// ([`MIN_T_COST`](Self::MIN_T_COST)..=[`MAX_T_COST`](Self::MAX_T_COST)), `p_cost` lanes
    /// (1..=[`MAX_P_COST`](Self::MAX_P_COST)) and `m_cost_kib · t_cost` at most
    /// [`MAX_WORK_KIB`](Self::MAX_WORK_KIB). Lanes are computed one after another (no
    /// threads). The decoder applies the same bounds.
    ///
    /// Errors: [`Error::InvalidRequest`] naming the parameter that is out of range
    /// (`argon2.work` for the product).
    pub fn new(m_cost_kib: u32, t_cost: u32, p_cost: u32) -> Result<Self, Error> {
        match Self::check(m_cost_kib, t_cost, p_cost) {
            Ok(p) => Ok(p),
            Err(field) => Err(Error::InvalidRequest(RequestError::KdfParams(field))),
        }
    }

    /// ⚠️ **Insecure**: the cheapest parameters accepted (m = 8 KiB, t = 3, p = 1), for tests
    /// that derive many keys. Never use them for a real share. They keep the 3-pass floor
    /// (see the module docs): with 8 blocks the three passes cost microseconds.
    pub const fn insecure_fast_for_tests() -> Self {
        Argon2Params {
            m_cost_kib: 8,
            t_cost: Self::MIN_T_COST,
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
        if !(Self::MIN_T_COST..=Self::MAX_T_COST).contains(&t_cost) {
            return Err("argon2.t_cost");
        }
        // RFC 9106 §3.1: m >= 8 * p.
        if m_cost_kib < 8 * p_cost || m_cost_kib > Self::MAX_M_COST_KIB {
            return Err("argon2.m_cost");
        }
        if u64::from(m_cost_kib) * u64::from(t_cost) > Self::MAX_WORK_KIB {
            return Err("argon2.work");
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

/// The device share d1' sealed under a PIN (SPEC §5): salt, KDF (Argon2i) parameters,
/// ciphertext.
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
            return Err(Error::InvalidRequest(RequestError::ShareLength));
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

    /// Length of [`to_bytes`](Self::to_bytes)'s output: 37 + the share's length.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.ciphertext.len()
    }

    /// The canonical encoding (module docs, format version 1).
    pub fn to_bytes(&self) -> Vec<u8> {
        let body = self.encoded_len() - crate::wire::encoding::HEADER_LEN;
        let mut w = Writer::with_capacity(MessageType::SealedShare, body);
        self.write_body(&mut w);
        w.finish_public()
    }

    /// Appends the fields after the header (also used inside the device record).
    pub(crate) fn write_body(&self, w: &mut Writer) {
        w.u8(KDF_ARGON2I_V13)
            .u32(self.params.m_cost_kib)
            .u32(self.params.t_cost)
            .u32(self.params.p_cost);
        // At most MAX_SHARE_LEN (528), checked at construction.
        w.u16(self.ciphertext.len() as u16)
            .fixed(&self.salt)
            .fixed(&self.ciphertext);
    }

    /// Decodes [`to_bytes`](Self::to_bytes)'s format strictly, without panicking.
    ///
    /// Errors: [`Error::Decode`] naming the field (`magic`, `version`, `type`, `kdf`,
    /// `argon2.m_cost`/`t_cost`/`p_cost`/`work`, `sealed_share.length`, `.salt`, `.ciphertext`,
    /// `end`) and the kind (`BadMagic`, `BadVersion`, `BadType`, `UnknownTag` for a KDF
    /// identifier other than Argon2i v0x13, `OutOfRange` for parameters beyond the caps,
    /// `Truncated`, `TrailingBytes`).
    pub fn from_bytes(bytes: &[u8]) -> Result<SealedShare, Error> {
        let mut r = Reader::new(bytes, MessageType::SealedShare)?;
        let sealed = Self::read_body(&mut r)?;
        r.finish()?;
        Ok(sealed)
    }

    /// Reads the fields after the header (also used inside the device record).
    pub(crate) fn read_body(r: &mut Reader<'_>) -> Result<SealedShare, Error> {
        if r.u8("kdf")? != KDF_ARGON2I_V13 {
            return Err(decode_err("kdf", DecodeErrorKind::UnknownTag));
        }
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
        Err(Error::InvalidRequest(RequestError::OtherPurpose))
    }
}

/// data XOR ChaCha20(Argon2i(PIN, salt, params, key_id || tag), nonce 0), into a wiping
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

/// key = Argon2i(PIN, salt, params, AD = key_id || purpose tag), 32 bytes (SPEC §5).
fn derive_key(
    pin: &Pin,
    salt: &[u8; SALT_LEN],
    key_id: &[u8; KEY_ID_LEN],
    purpose: KeyPurpose,
    params: &Argon2Params,
) -> Result<Zeroizing<[u8; 32]>, Error> {
    const ARGON2_FAILED: Error = Error::InvalidRequest(RequestError::KdfParams("argon2"));

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
        .map_err(|_| Error::InvalidRequest(RequestError::KdfMemory))?;
    memory.resize(blocks, Block::new());

    // Argon2i: every reference address comes from public counters (SPEC §5, §1 (g)).
    let argon = Argon2::new(Algorithm::Argon2i, Version::V0x13, argon_params);
    let mut key = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into_with_memory(pin.as_bytes(), salt, key.as_mut(), memory.as_mut_slice())
        .map_err(|_| ARGON2_FAILED)?;
    Ok(key)
}
