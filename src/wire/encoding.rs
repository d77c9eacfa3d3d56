//! Canonical binary encodings (SPEC §9): the shared reader and writer.
//!
//! Every message and stored record starts with a header: the magic bytes `"SRSA"`, the format
//! version (2) and a one-byte message type ([`MessageType`]). Fields follow in a fixed order:
//! integers are unsigned big-endian in a fixed width, variable fields carry a 4-byte length
//! and a per-field maximum. Decoding is strict: it rejects wrong magic, version or type, short
//! input, trailing bytes, lengths over a field's maximum and non-canonical or out-of-range
//! values, with a [`DecodeError`] naming the field; it never panics. The byte layout of every
//! message is in `docs/encodings.md`.

use core::fmt;

use zeroize::Zeroizing;

use crate::error::{DecodeError, DecodeErrorKind};

/// The magic bytes that start every encoding.
pub const MAGIC: [u8; 4] = *b"SRSA";

/// The format version this crate writes and reads: 2 since the session protocol of SPEC v2
/// (server-owned pending requests, sealed answers, records without OTPs in the clear).
pub const VERSION: u8 = 2;

/// Length of the header: magic, version, type.
pub const HEADER_LEN: usize = 6;

/// The type byte of each encoding (SPEC §9).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    /// Device → server: registration request (SPEC §3 step 4).
    RegistrationRequest = 0x01,
    /// The plaintext of the registration answer: key id, n2, OTP_0 (SPEC §3 step 6).
    RegistrationResponse = 0x02,
    /// Server → device: signing request (SPEC §4 step 1).
    SigningRequest = 0x03,
    /// Device → server: the sealed partial signature (SPEC §4 step 4).
    SealedPartialSignature = 0x04,
    /// The plaintext of a signing answer: the outcome, and the next OTP of a completed
    /// signature (SPEC §4 step 5).
    SigningAnswer = 0x05,
    /// The plaintext inside the sealed partial signature (SPEC §4 step 4).
    PartialSignature = 0x06,
    /// The plaintext inside the sealed registration request: d1'' (SPEC §3 step 4).
    RegistrationSecret = 0x07,
    /// Server → device: a registration challenge (SPEC §3 step 0).
    RegistrationChallenge = 0x08,
    /// Server → device: an answer sealed under the message's response key (SPEC §6).
    SealedResponse = 0x09,
    /// The device share sealed under the PIN (SPEC §5), stored on the device.
    SealedShare = 0x10,
    /// The device's stored record (SPEC §9).
    DeviceRecord = 0x11,
    /// The server's stored key record (SPEC §9).
    ServerKeyRecord = 0x12,
    /// The server's share inside its key record, before it is sealed under the KEK (SPEC §7).
    ServerShare = 0x13,
}

/// Appends fields in canonical form. The buffer wipes itself on drop, so a writer may carry
/// secrets (stored records, the plaintexts sealed to the server).
///
/// # No unwiped copies when the buffer grows
///
/// A `Vec` that outgrows its capacity reallocates, and the allocator frees the old block
/// *without wiping it*: every secret written before the growth (d1'', p2, an OTP, ...) would
/// stay in freed heap memory. The writer therefore never lets its vector reallocate: before
/// each append it makes room itself ([`Writer::reserve`]) by allocating a new wiping buffer of
/// at least double the capacity, copying, and dropping the old one through `Zeroizing`, which
/// wipes the bytes and the spare capacity before the block is freed. An append then always
/// fits, and `Vec::extend_from_slice` within capacity does not reallocate. A caller that knows
/// the final length can avoid even the wiped copies with [`Writer::with_capacity`]. Checked by
/// `tests/freed_memory.rs` with a spying allocator.
///
/// `Debug` prints only the length (the contents may be secret).
#[derive(Default)]
pub(crate) struct Writer {
    buf: Zeroizing<Vec<u8>>,
}

/// Capacity of the first allocation: enough for the header and a few fixed fields.
const MIN_CAPACITY: usize = 64;

impl Writer {
    /// A writer that starts with the header of `ty`.
    pub(crate) fn new(ty: MessageType) -> Self {
        Self::with_capacity(ty, 0)
    }

    /// A writer that starts with the header of `ty` and has room for `body_len` more bytes
    /// without growing (a hint: writing more is fine, the buffer then grows as in
    /// [`Writer::new`], wiping what it leaves behind).
    pub(crate) fn with_capacity(ty: MessageType, body_len: usize) -> Self {
        let mut w = Self {
            buf: Zeroizing::new(Vec::with_capacity(
                HEADER_LEN.saturating_add(body_len).max(MIN_CAPACITY),
            )),
        };
        w.put(&MAGIC);
        w.put(&[VERSION, ty as u8]);
        w
    }

    /// Makes room for `extra` more bytes without a reallocation of the vector: if they do not
    /// fit, moves the contents to a new buffer of at least twice the capacity and wipes the
    /// old one (see the type's docs).
    fn reserve(&mut self, extra: usize) {
        let needed = self.buf.len().saturating_add(extra);
        if needed <= self.buf.capacity() {
            return;
        }
        let capacity = needed
            .max(self.buf.capacity().saturating_mul(2))
            .max(MIN_CAPACITY);
        let mut grown = Zeroizing::new(Vec::with_capacity(capacity));
        grown.extend_from_slice(&self.buf);
        // The old buffer is dropped here: `Zeroizing` wipes its contents and spare capacity,
        // then frees it.
        drop(core::mem::replace(&mut self.buf, grown));
    }

    /// Appends `bytes` (never reallocates the vector, see [`Writer::reserve`]).
    fn put(&mut self, bytes: &[u8]) {
        self.reserve(bytes.len());
        self.buf.extend_from_slice(bytes);
    }

    pub(crate) fn u8(&mut self, v: u8) -> &mut Self {
        self.put(&[v]);
        self
    }

    pub(crate) fn u16(&mut self, v: u16) -> &mut Self {
        self.put(&v.to_be_bytes());
        self
    }

    pub(crate) fn u32(&mut self, v: u32) -> &mut Self {
        self.put(&v.to_be_bytes());
        self
    }

    pub(crate) fn u64(&mut self, v: u64) -> &mut Self {
        self.put(&v.to_be_bytes());
        self
    }

    /// Bytes of a width fixed by the format (no length prefix).
    pub(crate) fn fixed(&mut self, v: &[u8]) -> &mut Self {
        self.put(v);
        self
    }

    /// Variable-length bytes: a 4-byte big-endian length, then the bytes.
    pub(crate) fn var(&mut self, v: &[u8]) -> &mut Self {
        // Every variable field has a maximum far below 2^32 (checked on decode).
        // Room for both at once, so that a growth never happens between the two.
        self.reserve(4usize.saturating_add(v.len()));
        self.u32(v.len() as u32);
        self.put(v);
        self
    }

    /// The encoding, in a wiping buffer.
    pub(crate) fn finish(self) -> Zeroizing<Vec<u8>> {
        self.buf
    }

    /// The encoding of a public message, as a plain vector.
    pub(crate) fn finish_public(self) -> Vec<u8> {
        self.buf.to_vec()
    }
}

impl fmt::Debug for Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer")
            .field("len", &self.buf.len())
            .finish_non_exhaustive()
    }
}

/// Reads fields in canonical form; every read names its field for the error.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Starts reading `input`, checking its header against `ty`.
    pub(crate) fn new(input: &'a [u8], ty: MessageType) -> Result<Self, DecodeError> {
        let mut r = Self { buf: input };
        let magic = r.take(MAGIC.len(), "magic")?;
        if magic != MAGIC {
            return Err(DecodeError::new("magic", DecodeErrorKind::BadMagic));
        }
        if r.u8("version")? != VERSION {
            return Err(DecodeError::new("version", DecodeErrorKind::BadVersion));
        }
        if r.u8("type")? != ty as u8 {
            return Err(DecodeError::new("type", DecodeErrorKind::BadType));
        }
        Ok(r)
    }

    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError::new(field, DecodeErrorKind::Truncated));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    /// The next byte, without consuming it (`None` at the end).
    pub(crate) fn peek_u8(&self) -> Option<u8> {
        self.buf.first().copied()
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(u8::from_be_bytes(self.array(field)?))
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    pub(crate) fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }

    /// A boolean: exactly 0 or 1.
    pub(crate) fn bool(&mut self, field: &'static str) -> Result<bool, DecodeError> {
        match self.u8(field)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::new(field, DecodeErrorKind::NonCanonical)),
        }
    }

    /// Variable-length bytes of at most `max` bytes.
    pub(crate) fn var(&mut self, field: &'static str, max: usize) -> Result<&'a [u8], DecodeError> {
        let len = self.u32(field)? as usize;
        if len > max {
            return Err(DecodeError::new(field, DecodeErrorKind::TooLong));
        }
        self.take(len, field)
    }

    /// Ends decoding: no bytes may remain.
    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::new("end", DecodeErrorKind::TrailingBytes))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_rejections() {
        let mut w = Writer::new(MessageType::SigningRequest);
        w.u8(7).u32(0x0102_0304).var(b"abc");
        let bytes = w.finish_public();
        assert_eq!(
            hex(&bytes),
            "5352534102030701020304".to_string() + "00000003616263"
        );
        let mut r = Reader::new(&bytes, MessageType::SigningRequest).unwrap();
        assert_eq!(r.u8("a").unwrap(), 7);
        assert_eq!(r.u32("b").unwrap(), 0x0102_0304);
        assert_eq!(r.var("c", 3).unwrap(), b"abc");
        r.finish().unwrap();

        let kind = |b: &[u8]| {
            Reader::new(b, MessageType::SigningRequest)
                .unwrap_err()
                .kind
        };
        assert_eq!(kind(b"SRS"), DecodeErrorKind::Truncated);
        assert_eq!(kind(b"XRSA\x01\x03"), DecodeErrorKind::BadMagic);
        assert_eq!(kind(b"SRSA\x01\x03"), DecodeErrorKind::BadVersion);
        assert_eq!(kind(b"SRSA\x02\x04"), DecodeErrorKind::BadType);

        let mut r = Reader::new(&bytes, MessageType::SigningRequest).unwrap();
        r.u8("a").unwrap();
        r.u32("b").unwrap();
        assert_eq!(
            r.var("c", 2).unwrap_err(),
            DecodeError::new("c", DecodeErrorKind::TooLong)
        );
        let mut long = bytes.clone();
        long.push(0);
        let mut r = Reader::new(&long, MessageType::SigningRequest).unwrap();
        r.take(long.len() - HEADER_LEN - 1, "body").unwrap();
        assert_eq!(r.finish().unwrap_err().kind, DecodeErrorKind::TrailingBytes);
        let mut r = Reader::new(b"SRSA\x02\x03\x02", MessageType::SigningRequest).unwrap();
        assert_eq!(
            r.bool("flag").unwrap_err().kind,
            DecodeErrorKind::NonCanonical
        );
    }

    /// The writer's vector never reallocates by itself: every capacity change is one of the
    /// writer's own wiping moves, so the contents survive growth intact and `finish` returns
    /// them in order, with or without a capacity hint.
    #[test]
    fn growth_keeps_contents_and_order() {
        let chunk: Vec<u8> = (0..=255u8).collect();
        for hint in [0usize, 10, 5000] {
            let mut w = Writer::with_capacity(MessageType::SealedShare, hint);
            let mut want = b"SRSA\x02\x10".to_vec();
            for i in 0..20u8 {
                w.u8(i).fixed(&chunk).var(&chunk[..usize::from(i)]);
                want.push(i);
                want.extend_from_slice(&chunk);
                want.extend_from_slice(&u32::from(i).to_be_bytes());
                want.extend_from_slice(&chunk[..usize::from(i)]);
                assert!(w.buf.capacity() >= w.buf.len());
            }
            assert_eq!(w.finish().as_slice(), want.as_slice());
        }
        assert_eq!(
            format!("{:?}", Writer::new(MessageType::SealedShare)),
            "Writer { len: 6, .. }"
        );
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
