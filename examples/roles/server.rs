//! The server role of the TCP examples: a [`Server`] on the SQLite key store, its long-term
//! secrets in files of a data directory (as in `examples/demo.rs`), and a loop that serves the
//! framing of [`crate::framing`] on a loopback listener, one thread per connection.
//!
//! What it answers (one log line per request):
//! - the transport public key and registration challenges (SPEC §3 step 0);
//! - registrations (SPEC §3 step 5): `RegistrationRequest` → `SealedResponse`;
//! - a relying party's "sign this message with key K" (SPEC §4 step 1): the server hashes the
//!   message with SHA-256 and creates a RSASSA-PSS request, logging the verification code the
//!   relying party would show next to the document (SPEC §8). In the example the device asks
//!   on the relying party's behalf;
//! - sealed partial signatures (SPEC §4 step 5): `SealedPartialSignature` → `SealedResponse`.
//!   A byte-identical resend is answered from storage (logged as `resent`);
//! - a shutdown request, after which it stops accepting, finishes the open connections and
//!   returns.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand_core::{Rng, UnwrapErr};
use split_rsa::{
    HashAlg, KEY_ID_LEN, KekId, KeyId, KeyPurpose, KeySize, LOCAL_KEK_LEN, LocalKek, Outcome,
    RegistrationRequest, Scheme, SealedPartialSignature, Server, ServerPolicy, ServerTransportKey,
    SqliteKeyStore, verification_code,
};

use crate::framing::{IO_TIMEOUT, Kind, MAX_MESSAGE, read_frame, write_frame, write_private_file};

/// The examples' server: SQLite key store, local key-encryption key.
pub type ExampleServer = Server<SqliteKeyStore, LocalKek>;

/// The scheme of every signing request the example server creates.
pub const SCHEME: Scheme = Scheme::Pss(HashAlg::Sha256);

/// The file, in the data directory, that holds the transport public key for devices to pin.
pub const TRANSPORT_PUBLIC_FILE: &str = "transport-public.key";

/// The most connections served at the same time; more are refused (closed at once).
pub const MAX_CONNECTIONS: usize = 16;

/// The most requests one connection may carry.
pub const MAX_REQUESTS_PER_CONNECTION: u64 = 1000;

/// How often the accepting loop and idle connections look at the stop flag.
const POLL: Duration = Duration::from_millis(20);

/// Opens the server on `data_dir` (created if needed): the transport key (`server-transport.key`)
/// and the key-encryption key (`server-kek.key`) are created on the first run and loaded on
/// every later one; the keys live in `server.db`. The transport public key is also written to
/// [`TRANSPORT_PUBLIC_FILE`] for devices to pin. `n2_size` is the size of the server's half of
/// every new key.
///
/// The two key files stand in for what a deployment keeps in an HSM or a KMS.
///
/// # Errors
/// I/O errors, a corrupted key file, the store's errors.
pub fn open(
    data_dir: &Path,
    n2_size: KeySize,
) -> Result<ExampleServer, Box<dyn std::error::Error + Send + Sync>> {
    std::fs::create_dir_all(data_dir)?;
    let mut rng = UnwrapErr(getrandom::SysRng);
    let transport = match std::fs::read(data_dir.join("server-transport.key")) {
        Ok(bytes) => ServerTransportKey::from_bytes(&bytes)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let key = ServerTransportKey::generate(&mut rng);
            write_private_file(
                &data_dir.join("server-transport.key"),
                key.to_bytes().as_slice(),
            )?;
            key
        }
        Err(e) => return Err(e.into()),
    };
    let kek_bytes: [u8; LOCAL_KEK_LEN] = match std::fs::read(data_dir.join("server-kek.key")) {
        Ok(bytes) => bytes
            .as_slice()
            .try_into()
            .map_err(|_| "server-kek.key: wrong length")?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mut k = [0u8; LOCAL_KEK_LEN];
            rng.fill_bytes(&mut k);
            write_private_file(&data_dir.join("server-kek.key"), &k)?;
            k
        }
        Err(e) => return Err(e.into()),
    };
    std::fs::write(
        data_dir.join(TRANSPORT_PUBLIC_FILE),
        transport.public_key().to_bytes(),
    )?;
    let store = SqliteKeyStore::open(data_dir.join("server.db"))?;
    Ok(Server::new(
        transport,
        store,
        LocalKek::new(KekId(1), &kek_bytes),
        ServerPolicy::default(),
        n2_size,
    ))
}

/// The state shared by the accepting loop and the connection threads.
struct Shared<'a> {
    server: &'a ExampleServer,
    log: &'a (dyn Fn(&str) + Sync),
    stop: AtomicBool,
    requests: AtomicU64,
    max_requests: Option<u64>,
    connections: AtomicUsize,
}

/// Serves `listener` (which must be bound to a loopback address) until a shutdown request, or
/// until `max_requests` requests have been answered if given; then waits for the open
/// connections to finish and returns the number of requests answered. `log` receives one line
/// per request (and per refused connection).
///
/// # Errors
/// `InvalidInput` for a listener that is not on loopback; errors of the listener itself.
pub fn serve(
    listener: TcpListener,
    server: &ExampleServer,
    max_requests: Option<u64>,
    log: &(dyn Fn(&str) + Sync),
) -> io::Result<u64> {
    if !listener.local_addr()?.ip().is_loopback() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the example server listens on a loopback address only",
        ));
    }
    listener.set_nonblocking(true)?;
    let shared = Shared {
        server,
        log,
        stop: AtomicBool::new(max_requests == Some(0)),
        requests: AtomicU64::new(0),
        max_requests,
        connections: AtomicUsize::new(0),
    };
    std::thread::scope(|scope| -> io::Result<()> {
        while !shared.stop.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((stream, peer)) => {
                    if shared.connections.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                        shared.connections.fetch_sub(1, Ordering::SeqCst);
                        log(&format!(
                            "{peer}: refused, {MAX_CONNECTIONS} connections open"
                        ));
                        continue; // dropping the stream closes it
                    }
                    let shared = &shared;
                    scope.spawn(move || {
                        if let Err(e) = connection(shared, stream, peer) {
                            (shared.log)(&format!("{peer}: connection ended: {e}"));
                        }
                        shared.connections.fetch_sub(1, Ordering::SeqCst);
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(POLL),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    shared.stop.store(true, Ordering::SeqCst);
                    return Err(e);
                }
            }
        }
        Ok(())
    })?;
    Ok(shared.requests.load(Ordering::SeqCst))
}

/// Serves one connection: frames until the client closes it, the server stops, or
/// [`MAX_REQUESTS_PER_CONNECTION`].
fn connection(shared: &Shared<'_>, mut stream: TcpStream, peer: SocketAddr) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(POLL))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    stream.set_nodelay(true)?;
    for _ in 0..MAX_REQUESTS_PER_CONNECTION {
        if !wait_for_frame(shared, &stream)? {
            return Ok(());
        }
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        let frame = read_frame(&mut stream);
        stream.set_read_timeout(Some(POLL))?;
        let Some((kind, body)) = frame? else {
            return Ok(());
        };
        let number = shared.requests.fetch_add(1, Ordering::SeqCst) + 1;
        let started = Instant::now();
        let result = handle(shared, kind, &body);
        let (answer_kind, answer, line) = match result {
            Ok((answer, line)) => (Kind::Ok, answer, line),
            Err(why) => (
                Kind::Refused,
                why.clone().into_bytes(),
                format!("refused: {why}"),
            ),
        };
        (shared.log)(&format!(
            "#{number} {peer} {kind:?}: {line} ({:.2?})",
            started.elapsed()
        ));
        if kind == Kind::Shutdown || shared.max_requests.is_some_and(|max| number >= max) {
            shared.stop.store(true, Ordering::SeqCst);
        }
        // The answer may be lost (the client went away): the server's state is already
        // stored, and the client's resend is answered from it.
        write_frame(&mut stream, answer_kind, &answer)?;
    }
    Ok(())
}

/// Waits for the first byte of the next frame, looking at the stop flag meanwhile (so that an
/// idle client does not hold the server open after a shutdown). `false`: the client closed
/// the connection, the server is stopping, or the client was idle for [`IO_TIMEOUT`].
fn wait_for_frame(shared: &Shared<'_>, stream: &TcpStream) -> io::Result<bool> {
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut first = [0u8; 1];
    while Instant::now() < deadline {
        if shared.stop.load(Ordering::SeqCst) {
            return Ok(false);
        }
        match stream.peek(&mut first) {
            Ok(0) => return Ok(false),
            Ok(_) => return Ok(true),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// One request: the answer's body and a log line, or the refusal in words.
fn handle(shared: &Shared<'_>, kind: Kind, body: &[u8]) -> Result<(Vec<u8>, String), String> {
    let server = shared.server;
    let mut rng = UnwrapErr(getrandom::SysRng);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    let e = |e: split_rsa::Error| e.to_string();
    match kind {
        Kind::TransportKey => Ok((
            server.transport_public_key().to_bytes().to_vec(),
            "sent".into(),
        )),
        Kind::Challenge => {
            let challenge = server.issue_challenge(&mut rng, now);
            let line = format!("issued, expires at {}", challenge.expires_at());
            Ok((challenge.to_bytes(), line))
        }
        Kind::Register => {
            let request = RegistrationRequest::from_bytes(body).map_err(e)?;
            let registered = server.register(&mut rng, &request, now).map_err(e)?;
            let line = format!(
                "key {} ({:?}, {}-bit composite public key)",
                registered.key_id,
                request.purpose(),
                registered.public_key.bits()
            );
            Ok((registered.response.to_bytes(), line))
        }
        Kind::SigningRequest => {
            let (id, message) = body
                .split_first_chunk::<KEY_ID_LEN>()
                .ok_or("a signing request starts with a 16-byte key id")?;
            if message.len() > MAX_MESSAGE {
                return Err(format!("the message is longer than {MAX_MESSAGE} bytes"));
            }
            let key_id = KeyId::from_bytes(*id);
            let digest = SCHEME.hash().digest(message);
            let request = server
                .create_request(&mut rng, &key_id, KeyPurpose::Signing, SCHEME, &digest, now)
                .map_err(e)?;
            let line = format!(
                "key {key_id}: request {} for {} message bytes, verification code {}",
                request.request_id(),
                message.len(),
                verification_code(&digest)
            );
            Ok((request.to_bytes(), line))
        }
        Kind::Complete => {
            let message = SealedPartialSignature::from_bytes(body).map_err(e)?;
            let done = server.complete(&mut rng, &message, now).map_err(e)?;
            let what = match &done.outcome {
                Outcome::Completed { signature } => {
                    format!("completed ({}-byte signature)", signature.len())
                }
                other => format!("{other:?}"),
            };
            let line = format!(
                "key {}: {what}{}",
                message.key_id(),
                if done.resent {
                    ", resent from storage (nothing evaluated or charged)"
                } else {
                    ""
                }
            );
            Ok((done.response.to_bytes(), line))
        }
        Kind::Shutdown => Ok((Vec::new(), "stopping".into())),
        Kind::Ok | Kind::Refused => Err("an answer frame is not a request".into()),
    }
}
