//! The examples' wire framing over TCP: one frame is `kind (u8) ‖ length (u32, big-endian) ‖
//! body (length bytes)`, at most [`MAX_BODY`] bytes of body. A request frame names what is
//! asked ([`Kind`]); the answer is one frame of kind [`Kind::Ok`] (the body is the answer:
//! a message's `to_bytes()`) or [`Kind::Refused`] (the body is the server's error in words).
//!
//! This is the examples' own plumbing, not part of split-rsa: the library is transport-free,
//! and a deployment carries the same message bytes over TLS. The examples listen and connect
//! on the loopback interface only.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// The largest body accepted (a sealed 4096-bit partial signature is about 600 bytes, a
/// registration request about 1.2 KiB; a message to sign is capped at [`MAX_MESSAGE`]).
pub const MAX_BODY: usize = 64 * 1024;

/// The largest message a relying party may ask to have signed in the example.
pub const MAX_MESSAGE: usize = 16 * 1024;

/// How long either side waits for the other's next bytes. The server's registration answer
/// includes the generation of its RSA half (seconds at 3072 bits on a shared machine).
pub const IO_TIMEOUT: Duration = Duration::from_secs(300);

/// What a frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Request: the server's transport public key (empty body). Answer: its 32 bytes.
    TransportKey,
    /// Request: a registration challenge (empty body). Answer: `RegistrationChallenge` bytes.
    Challenge,
    /// Request: `RegistrationRequest` bytes. Answer: `SealedResponse` bytes.
    Register,
    /// Request, as a relying party would make it: `key id (16 bytes) ‖ message`. The server
    /// hashes the message (SHA-256) and creates a RSASSA-PSS signing request for the key.
    /// Answer: `SigningRequest` bytes.
    SigningRequest,
    /// Request: `SealedPartialSignature` bytes. Answer: `SealedResponse` bytes.
    Complete,
    /// Request: stop the server (empty body). Answer: empty.
    Shutdown,
    /// Answer: the request was served; the body is the answer.
    Ok,
    /// Answer: the request was refused; the body is the reason, UTF-8.
    Refused,
}

impl Kind {
    /// The byte on the wire.
    pub fn tag(self) -> u8 {
        match self {
            Kind::TransportKey => 1,
            Kind::Challenge => 2,
            Kind::Register => 3,
            Kind::SigningRequest => 4,
            Kind::Complete => 5,
            Kind::Shutdown => 6,
            Kind::Ok => 0x80,
            Kind::Refused => 0x81,
        }
    }

    /// The kind of a byte on the wire.
    pub fn from_tag(tag: u8) -> Option<Self> {
        Some(match tag {
            1 => Kind::TransportKey,
            2 => Kind::Challenge,
            3 => Kind::Register,
            4 => Kind::SigningRequest,
            5 => Kind::Complete,
            6 => Kind::Shutdown,
            0x80 => Kind::Ok,
            0x81 => Kind::Refused,
            _ => return None,
        })
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// Writes one frame.
///
/// # Errors
/// I/O errors; `InvalidInput` for a body longer than [`MAX_BODY`].
pub fn write_frame(w: &mut impl Write, kind: Kind, body: &[u8]) -> io::Result<()> {
    if body.len() > MAX_BODY {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "frame body too long",
        ));
    }
    let mut frame = Vec::with_capacity(5 + body.len());
    frame.push(kind.tag());
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(body);
    w.write_all(&frame)?;
    w.flush()
}

/// Reads one frame; `None` if the peer closed the connection cleanly before a frame began.
///
/// # Errors
/// I/O errors (a connection closed inside a frame is `UnexpectedEof`); `InvalidData` for an
/// unknown kind or a length above [`MAX_BODY`].
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<(Kind, Vec<u8>)>> {
    let mut tag = [0u8; 1];
    loop {
        match r.read(&mut tag) {
            Ok(0) => return Ok(None),
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    let kind = Kind::from_tag(tag[0]).ok_or_else(|| invalid("unknown frame kind"))?;
    let mut len = [0u8; 4];
    r.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_BODY {
        return Err(invalid("frame body too long"));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    Ok(Some((kind, body)))
}

/// Why a call failed: the connection (try again, on a new one), or the server's refusal.
#[derive(Debug)]
pub enum CallError {
    /// The connection broke, timed out or carried something that is not a frame: nothing is
    /// known about whether the server acted on the request.
    Io(io::Error),
    /// The server answered with a refusal.
    Refused(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Io(e) => write!(f, "connection: {e}"),
            CallError::Refused(why) => write!(f, "the server refused: {why}"),
        }
    }
}

impl std::error::Error for CallError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CallError::Io(e) => Some(e),
            CallError::Refused(_) => None,
        }
    }
}

impl From<io::Error> for CallError {
    fn from(e: io::Error) -> Self {
        CallError::Io(e)
    }
}

/// A client connection that is opened on first use and again after it broke.
#[derive(Debug)]
pub struct Client {
    addr: SocketAddr,
    stream: Option<TcpStream>,
}

impl Client {
    /// A client of the server at `addr`, which must be a loopback address (the examples do not
    /// leave the machine).
    ///
    /// # Errors
    /// `InvalidInput` for an address that is not loopback.
    pub fn new(addr: SocketAddr) -> io::Result<Self> {
        if !addr.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the examples connect to a loopback address only",
            ));
        }
        Ok(Self { addr, stream: None })
    }

    /// Sends one request and reads its answer. On an I/O error the connection is dropped (the
    /// next call opens a new one).
    ///
    /// # Errors
    /// [`CallError::Io`]; [`CallError::Refused`] with the server's reason.
    pub fn call(&mut self, kind: Kind, body: &[u8]) -> Result<Vec<u8>, CallError> {
        let result = self.call_inner(kind, body);
        if let Err(CallError::Io(_)) = result {
            self.stream = None;
        }
        result
    }

    fn call_inner(&mut self, kind: Kind, body: &[u8]) -> Result<Vec<u8>, CallError> {
        let stream = match &mut self.stream {
            Some(s) => s,
            None => {
                let s = TcpStream::connect_timeout(&self.addr, IO_TIMEOUT)?;
                s.set_read_timeout(Some(IO_TIMEOUT))?;
                s.set_write_timeout(Some(IO_TIMEOUT))?;
                s.set_nodelay(true)?;
                self.stream.insert(s)
            }
        };
        write_frame(stream, kind, body)?;
        match read_frame(stream)? {
            Some((Kind::Ok, answer)) => Ok(answer),
            Some((Kind::Refused, why)) => Err(CallError::Refused(
                String::from_utf8_lossy(&why).into_owned(),
            )),
            Some(_) => Err(CallError::Io(invalid("the answer is not an answer frame"))),
            None => Err(CallError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ))),
        }
    }

    /// Closes the connection (the next call opens a new one), as a broken connection would.
    pub fn disconnect(&mut self) {
        self.stream = None;
    }
}

/// Writes a file readable by its owner only, atomically (write, sync, rename): the examples'
/// stand-in for a phone's secure storage and a server's key management.
///
/// # Errors
/// I/O errors.
pub fn write_private_file(path: &std::path::Path, bytes: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(tmp, path)
}
