//! Explicit-state model checking of the session state machines (SPEC §1 (c), (h), (i); §4;
//! §7; §10; STYLE.md rule 10).
//!
//! The checker drives the **production** transition code: `split_rsa::hazmat::session`
//! (`admit`, `settle`, `record_answer`, `start_request`, `may_sign`, `answer_effect`) on the
//! real [`KeyRecord`]. Only the cryptography is abstracted:
//!
//! - a partial signature is "valid" iff it was made with the right PIN for the request the
//!   server recomputes EM from (the admitted record's pending request);
//! - a device→server message is a small value (author, request, OTP generation, right PIN,
//!   sequence number); its `message_hash` is SHA-256 of that small encoding, so two signatures
//!   are distinct messages even for the same request and OTP (HPKE is randomised);
//! - an answer is sealed to the message it answers: `SealedResponse::from_parts` with bytes
//!   naming that message (and, for a completion, the next OTP); the device opens only answers
//!   to its own pending message.
//!
//! The shell (`Server::complete`, `Server::create_request`) is mirrored step by step: see
//! `docs/model-checking.md` and the `Action` type. Configurations, bounds and the named
//! properties are at the end of this file, with one `#[test]` each, and one `#[test]` per
//! planted bug that must be caught.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

#[path = "model/explorer.rs"]
mod explorer;

use std::collections::BTreeSet;
use std::fmt;

use explorer::{Model, Report, Violation, explore};
use sha2::{Digest, Sha256};
use split_rsa::hazmat::session::{
    self, Admission, AnswerEffect, Evaluation, MessageFacts, Settlement,
};
use split_rsa::{
    HashAlg, KEK_NONCE_LEN, KEK_TAG_LEN, KekId, KeyId, KeyPurpose, KeyRecord, LockStep,
    LockoutPolicy, Otp, OtpHash, Outcome, RequestId, ResponseKind, Scheme, SealedResponse,
    SigningRequest, WrappedShare,
};

// ---------------------------------------------------------------------------------------
// Constants of the abstraction
// ---------------------------------------------------------------------------------------

/// The time the model starts at (seconds); time advances only to let a lock run out.
const NOW0: u64 = 1_000;
/// Length of the (fake) composite modulus kept in the record: 512 + 512 bits (test sizes).
const N_LEN: usize = 128;
/// OTP generations the tables cover (each completion issues the next one).
const MAX_GEN: usize = 32;
/// Length of the model's sealed answers (at least the decoder's minimum).
const SEALED_LEN: usize = 40;
/// Offset of the state byte in a record's canonical encoding: header 6, key id 16,
/// purpose 1, SHA-256(n1) 32, created 8, expires 8 (docs/encodings.md).
const RECORD_STATE_AT: usize = 6 + 16 + 1 + 32 + 8 + 8;

// ---------------------------------------------------------------------------------------
// Transition functions as parameters (production, planted bugs, a proposed fix)
// ---------------------------------------------------------------------------------------

type AdmitFn = fn(&KeyRecord, &MessageFacts, &LockoutPolicy, u64) -> Admission;
type SettleFn =
    fn(&KeyRecord, &MessageFacts, Evaluation, &OtpHash, &LockoutPolicy, u64) -> Settlement;
type RecordAnswerFn = fn(&mut KeyRecord, [u8; 32], &Outcome, SealedResponse);
type StartRequestFn =
    fn(&KeyRecord, &SigningRequest, &LockoutPolicy, u64) -> split_rsa::Result<KeyRecord>;
type MaySignFn = fn(bool, bool) -> split_rsa::Result<()>;
type AnswerEffectFn = fn(&Outcome) -> AnswerEffect;

/// The session rules the model runs: by default the production functions.
#[derive(Clone, Copy)]
struct Rules {
    name: &'static str,
    admit: AdmitFn,
    settle: SettleFn,
    record_answer: RecordAnswerFn,
    start_request: StartRequestFn,
    may_sign: MaySignFn,
    answer_effect: AnswerEffectFn,
}

const PRODUCTION: Rules = Rules {
    name: "production",
    admit: session::admit,
    settle: session::settle,
    record_answer: session::record_answer,
    start_request: session::start_request,
    may_sign: session::may_sign,
    answer_effect: session::answer_effect,
};

/// The record re-encoded with another failure count (for planted bugs only: the record's
/// fields are not writable from outside the crate, its canonical encoding is).
fn with_failures(record: &KeyRecord, failures: u32) -> KeyRecord {
    let mut bytes = record.to_bytes().to_vec();
    assert_eq!(bytes[RECORD_STATE_AT], 1, "active record");
    let n_len = usize::from(u16::from_be_bytes([
        bytes[RECORD_STATE_AT + 1],
        bytes[RECORD_STATE_AT + 2],
    ]));
    let at = RECORD_STATE_AT + 3 + n_len;
    bytes[at..at + 4].copy_from_slice(&failures.to_be_bytes());
    KeyRecord::from_bytes(&bytes).unwrap()
}

/// The record destroyed for a clone at `now` (planted bugs only).
fn destroyed_for_clone(record: &KeyRecord, now: u64) -> KeyRecord {
    let mut bytes = record.to_bytes()[..RECORD_STATE_AT].to_vec();
    bytes.push(2); // destroyed
    bytes.push(2); // DestroyReason::Clone
    bytes.extend_from_slice(&now.to_be_bytes());
    KeyRecord::from_bytes(&bytes).unwrap()
}

fn failures_of(record: &KeyRecord) -> u32 {
    record.active().map_or(0, |a| a.failures())
}

fn is_previous(record: &KeyRecord, otp: &OtpHash) -> bool {
    record
        .active()
        .is_some_and(|a| a.otp_previous() == Some(otp) && a.otp_current() != otp)
}

/// Planted (h), the v1 bug: a resend answered from storage resets the failure count.
fn plant_admit_resend_resets(
    r: &KeyRecord,
    m: &MessageFacts,
    l: &LockoutPolicy,
    now: u64,
) -> Admission {
    match session::admit(r, m, l, now) {
        Admission::Resend(_) if failures_of(r) > 0 => Admission::Charge(with_failures(r, 0)),
        a => a,
    }
}

/// Planted (h): a replayed older try (already charged and settled) is charged again.
fn plant_admit_replay_charged(
    r: &KeyRecord,
    m: &MessageFacts,
    l: &LockoutPolicy,
    now: u64,
) -> Admission {
    let a = session::admit(r, m, l, now);
    if a == Admission::Refuse(Outcome::NotPending)
        && let Some(active) = r.active()
        && let Some(p) = active.pending()
        && p.request_id() == &m.request_id
        && p.tried().contains(&m.message_hash)
    {
        return Admission::Charge(with_failures(r, active.failures() + 1));
    }
    a
}

/// Planted (i): a resend of a charged message whose outcome was lost is charged again.
fn plant_admit_resend_charged(
    r: &KeyRecord,
    m: &MessageFacts,
    l: &LockoutPolicy,
    now: u64,
) -> Admission {
    match session::admit(r, m, l, now) {
        Admission::Evaluate => Admission::Charge(with_failures(r, failures_of(r) + 1)),
        a => a,
    }
}

/// Planted (i): settle re-judges a message that was settled meanwhile (a duplicate that lost
/// the race, a resend after a lost answer): valid with what is now the previous OTP, it
/// "detects a clone" and destroys the key.
fn plant_settle_lost_answer_destroys(
    r: &KeyRecord,
    m: &MessageFacts,
    e: Evaluation,
    next: &OtpHash,
    l: &LockoutPolicy,
    now: u64,
) -> Settlement {
    let valid = matches!(e, Evaluation::Valid { .. });
    match session::settle(r, m, e, next, l, now) {
        Settlement::Resend(_) if valid && is_previous(r, &m.otp_hash) => {
            Settlement::Persist(destroyed_for_clone(r, now), Outcome::CloneDetected)
        }
        s => s,
    }
}

/// Planted (c): settle treats the previous OTP as the current one.
fn plant_settle_previous_as_current(
    r: &KeyRecord,
    m: &MessageFacts,
    e: Evaluation,
    next: &OtpHash,
    l: &LockoutPolicy,
    now: u64,
) -> Settlement {
    if matches!(e, Evaluation::Valid { .. }) && is_previous(r, &m.otp_hash) {
        let current = *r.active().unwrap().otp_current();
        let m2 = MessageFacts {
            otp_hash: current,
            ..*m
        };
        return session::settle(r, &m2, e, next, l, now);
    }
    session::settle(r, m, e, next, l, now)
}

/// Planted (i): the device starts a new signature while an exchange is pending.
fn plant_may_sign_ignores_pending(dead: bool, _pending: bool) -> split_rsa::Result<()> {
    session::may_sign(dead, false)
}

// ---------------------------------------------------------------------------------------
// The model's values
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
enum Author {
    Device,
    Attacker,
}

/// A device→server message: what the server can tell apart.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Msg {
    author: Author,
    req: u8,
    otp: u8,
    right: bool,
    seq: u8,
}

impl fmt::Debug for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = match self.author {
            Author::Device => "dev",
            Author::Attacker => "atk",
        };
        let pin = if self.right { "right" } else { "WRONG" };
        write!(
            f,
            "{a}#{}(req {}, otp {}, {pin} pin)",
            self.seq, self.req, self.otp
        )
    }
}

impl Msg {
    fn encode(&self) -> [u8; 5] {
        [
            self.author as u8,
            self.req,
            self.otp,
            u8::from(self.right),
            self.seq,
        ]
    }

    fn decode(b: &[u8]) -> Self {
        Msg {
            author: if b[0] == 0 {
                Author::Device
            } else {
                Author::Attacker
            },
            req: b[1],
            otp: b[2],
            right: b[3] == 1,
            seq: b[4],
        }
    }

    fn hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"model message");
        h.update(self.encode());
        h.finalize().into()
    }
}

/// The public outcome of an answer, as an ordered value.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
enum Out {
    Completed,
    WrongPin(u32, Option<u64>),
    NotPending,
    Locked(Option<u64>),
    Destroyed,
    Expired,
    CloneDetected,
    StaleRecord,
}

fn out_of(o: &Outcome) -> Out {
    #[allow(unreachable_patterns)]
    match o {
        Outcome::Completed { .. } => Out::Completed,
        Outcome::WrongPin {
            attempts_left,
            locked_until,
        } => Out::WrongPin(*attempts_left, *locked_until),
        Outcome::NotPending => Out::NotPending,
        Outcome::Locked { until } => Out::Locked(*until),
        Outcome::Destroyed => Out::Destroyed,
        Outcome::Expired => Out::Expired,
        Outcome::CloneDetected => Out::CloneDetected,
        Outcome::StaleRecord => Out::StaleRecord,
        _ => panic!("unknown outcome {o:?}"),
    }
}

fn outcome_of(o: Out) -> Outcome {
    match o {
        Out::Completed => Outcome::Completed {
            signature: Vec::new(),
        },
        Out::WrongPin(attempts_left, locked_until) => Outcome::WrongPin {
            attempts_left,
            locked_until,
        },
        Out::NotPending => Outcome::NotPending,
        Out::Locked(until) => Outcome::Locked { until },
        Out::Destroyed => Outcome::Destroyed,
        Out::Expired => Outcome::Expired,
        Out::CloneDetected => Outcome::CloneDetected,
        Out::StaleRecord => Outcome::StaleRecord,
    }
}

/// A server→device answer: sealed to `to` (only its sender can open it).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Ans {
    to: Msg,
    out: Out,
    next_otp: Option<u8>,
}

impl fmt::Debug for Ans {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} to {:?}", self.out, self.to)?;
        if let Some(n) = self.next_otp {
            write!(f, " (next otp {n})")?;
        }
        Ok(())
    }
}

/// A server worker's volatile state (lost in a crash).
#[derive(Clone)]
enum Worker {
    Idle,
    /// After admission (the charge persisted, or a charged message to evaluate again): the
    /// record it was admitted on, and whether that is still the stored version.
    Admitted {
        msg: Msg,
        record: Box<KeyRecord>,
        fresh: bool,
    },
    /// After a lost compare-and-swap of the outcome: evaluated, to settle on a reload.
    Retry {
        msg: Msg,
        valid: bool,
        next_otp: u8,
    },
}

/// The honest device's persisted record (SPEC §10): every device action persists
/// atomically before it sends, so a device crash restarts from exactly this.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
struct Device {
    otp: u8,
    pending: Option<Msg>,
    dead: bool,
    signs: u8,
    wrong: u8,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
struct Attacker {
    stolen: bool,
    /// Its messages delivered at least once (bit per sequence number).
    delivered: u32,
    /// OTP generations it knows (bit set): the stolen copy's, and for a clone the next OTPs
    /// of its own completed messages.
    known: u32,
    sent: u8,
}

/// Monitors of the properties (ghost state, not seen by the code under test).
#[derive(Clone, Default)]
struct Ghost {
    /// Distinct messages whose charge was persisted since the last persisted completion.
    charged: BTreeSet<Msg>,
    /// Every message whose charge was ever persisted.
    ever_charged: BTreeSet<Msg>,
    /// Distinct wrong-PIN messages evaluated since the last persisted completion.
    evaluated_wrong: BTreeSet<Msg>,
    /// The newest OTP generation a persisted completion used.
    max_completed: Option<u8>,
    /// The newest OTP generation the honest device completed with (accepted Completed).
    device_done: Option<u8>,
    /// A transition property that failed (sticky).
    bad: Option<(&'static str, String)>,
}

#[derive(Clone)]
struct State {
    record: KeyRecord,
    now: u64,
    created: u8,
    workers: Vec<Worker>,
    device: Device,
    attacker: Attacker,
    /// Every device→server message ever sent: deliverable any number of times, any order.
    msgs: BTreeSet<Msg>,
    /// Every answer ever sent to the honest device's messages.
    answers: BTreeSet<Ans>,
    ghost: Ghost,
}

// The fields are read through `Debug`, in counterexample traces.
#[allow(dead_code)]
#[derive(Clone, Debug)]
enum Action {
    /// The relying party asks: `create_request` (start_request + compare-and-swap).
    CreateRequest(u8),
    /// A worker receives a message: load + admit, and for a charge its compare-and-swap.
    Receive { worker: usize, msg: Msg },
    /// Evaluate (step h) + settle on the admitted record + record_answer + compare-and-swap.
    EvaluateAndSettle { worker: usize },
    /// After a lost compare-and-swap: reload + settle (no second evaluation) + CAS.
    ReloadAndSettle { worker: usize },
    /// The worker crashes: its in-flight work is lost.
    Crash { worker: usize },
    /// Time passes until the lock ends.
    LockRunsOut { now: u64 },
    /// The device signs (persists pending, then sends).
    DeviceSigns { req: u8, right_pin: bool },
    /// The device opens and applies an answer to its pending message.
    DeviceAccepts(Ans),
    /// The attacker copies the device record.
    Steal { otp: u8, pending: Option<Msg> },
    /// The attacker sends a message of its own with a known OTP.
    AttackerSends(Msg),
}

// ---------------------------------------------------------------------------------------
// Configurations
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum AttackerKind {
    /// No attacker: only the honest parties and the network.
    None,
    /// Model A: a copy of the device record without the PIN (wrong-PIN messages).
    Thief,
    /// Model B: a clone with the right PIN.
    Clone,
}

#[derive(Clone, Debug)]
struct Config {
    name: &'static str,
    policy: LockoutPolicy,
    workers: usize,
    /// Requests the relying party may create.
    requests: u8,
    /// Signatures the honest device may start.
    signs: u8,
    /// Of those, how many with a wrong PIN.
    wrong_pins: u8,
    attacker: AttackerKind,
    attacker_msgs: u8,
    crashes: bool,
    /// Check (i) (honest runs).
    check_i: bool,
    /// Check the strict form of (i) that needs no server crash: never locked, no standing
    /// charge at quiescence.
    strict_i: bool,
}

fn small_policy() -> LockoutPolicy {
    // Lock for 10 s at 2 failures, destroy at 3.
    LockoutPolicy::new(
        &[LockStep {
            at_failures: 2,
            duration_secs: 10,
        }],
        3,
    )
    .unwrap()
}

// ---------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------

struct SessionModel {
    cfg: Config,
    rules: Rules,
    key_id: KeyId,
    requests: Vec<SigningRequest>,
    otp_hashes: Vec<OtpHash>,
}

impl SessionModel {
    fn new(cfg: Config, rules: Rules) -> Self {
        let key_id = KeyId::from_bytes([0x4B; 16]);
        let requests = (0..cfg.requests)
            .map(|r| {
                SigningRequest::from_parts(
                    key_id,
                    Self::rid(r),
                    KeyPurpose::Signing,
                    Scheme::Pkcs1v15(HashAlg::Sha256),
                    &[r; 32],
                    &[],
                    1 << 62,
                )
                .unwrap()
            })
            .collect();
        let otp_hashes = (0..MAX_GEN as u8)
            .map(|g| Otp::from_bytes([g.wrapping_add(1); 32]).hash())
            .collect();
        Self {
            cfg,
            rules,
            key_id,
            requests,
            otp_hashes,
        }
    }

    fn rid(r: u8) -> RequestId {
        RequestId::from_bytes([r.wrapping_add(1); 16])
    }

    fn gen_of(&self, h: &OtpHash) -> u8 {
        self.otp_hashes
            .iter()
            .position(|x| x == h)
            .expect("an OTP the model issued") as u8
    }

    fn facts(&self, m: Msg) -> MessageFacts {
        MessageFacts {
            message_hash: m.hash(),
            request_id: Self::rid(m.req),
            request_hash: self.requests[usize::from(m.req)].hash(),
            otp_hash: self.otp_hashes[usize::from(m.otp)],
        }
    }

    fn sealed(&self, to: Msg, next: Option<u8>) -> SealedResponse {
        let mut b = vec![0x4D];
        b.extend_from_slice(&to.encode());
        b.push(next.unwrap_or(0xFF));
        b.resize(SEALED_LEN, 0);
        SealedResponse::from_parts(ResponseKind::Signing, self.key_id, Self::rid(to.req), b)
    }

    fn initial_record(&self) -> KeyRecord {
        let r = KeyRecord::new_active(
            self.key_id,
            KeyPurpose::Signing,
            [0x11; 32],
            0,
            1 << 40,
            vec![0xC5; N_LEN],
            self.otp_hashes[0],
            WrappedShare::from_parts(KekId(1), [0; KEK_NONCE_LEN], vec![0; KEK_TAG_LEN]),
            None,
        );
        assert_eq!(KeyRecord::from_bytes(&r.to_bytes()).unwrap(), r);
        r
    }

    // --- the server shell, step by step -------------------------------------------------

    /// Sends an answer: to the honest device's messages into the network; the attacker reads
    /// its own (a clone learns the next OTP of its completions).
    fn reply(&self, s: &mut State, to: Msg, out: Out, next_otp: Option<u8>) {
        match to.author {
            Author::Device => {
                s.answers.insert(Ans { to, out, next_otp });
            }
            Author::Attacker => {
                if let (Out::Completed, Some(n)) = (out, next_otp) {
                    s.attacker.known |= 1 << n;
                }
            }
        }
    }

    /// The stored sealed answer sent again (SPEC §4.5 b): it answers the message it was
    /// sealed to.
    fn reply_stored(&self, s: &mut State, stored: &split_rsa::StoredAnswer) {
        let bytes = stored.response().to_bytes();
        let sealed = &bytes[bytes.len() - SEALED_LEN..];
        assert_eq!(sealed[0], 0x4D, "a model answer");
        let to = Msg::decode(&sealed[1..6]);
        let next = (sealed[6] != 0xFF).then_some(sealed[6]);
        let out = match stored.summary() {
            split_rsa::AnswerSummary::Signing(o) => out_of(o),
            split_rsa::AnswerSummary::Registered => Out::NotPending,
        };
        self.reply(s, to, out, next);
    }

    /// A successful compare-and-swap of `next`, with the transition monitors.
    fn commit(&self, s: &mut State, next: KeyRecord, what: Commit) {
        let completed = matches!(
            what,
            Commit::Settled {
                out: Out::Completed,
                ..
            }
        );
        if let (Some(old), Some(new)) = (s.record.active(), next.active())
            && new.failures() < old.failures()
            && !completed
        {
            s.ghost.bad.get_or_insert((
                "(h) only a Completed answer resets the count",
                format!(
                    "the count went {} -> {} in a write that is not a completion ({what:?})",
                    old.failures(),
                    new.failures()
                ),
            ));
        }
        match &what {
            Commit::Charge(m) => {
                s.ghost.charged.insert(*m);
                s.ghost.ever_charged.insert(*m);
            }
            Commit::Request => {}
            Commit::Settled {
                msg,
                valid,
                base_previous,
                out,
            } => {
                if *out == Out::Completed {
                    if let Some(g) = s.ghost.max_completed.filter(|&g| msg.otp <= g) {
                        s.ghost.bad.get_or_insert((
                            "(c) no older copy is ever Completed",
                            format!(
                                "{msg:?} completed with OTP {} after a completion with OTP {g}",
                                msg.otp
                            ),
                        ));
                    }
                    if let Some(g) = s.ghost.device_done.filter(|&g| msg.otp <= g) {
                        s.ghost.bad.get_or_insert((
                            "(c) no older copy is ever Completed",
                            format!(
                                "{msg:?} completed with OTP {} after the honest device \
                                 completed with OTP {g}",
                                msg.otp
                            ),
                        ));
                    }
                    s.ghost.max_completed = Some(msg.otp);
                    s.ghost.charged.clear();
                    s.ghost.evaluated_wrong.clear();
                }
                if *valid && *base_previous {
                    let clone = next
                        .destroyed()
                        .is_some_and(|(r, _)| r == split_rsa::DestroyReason::Clone);
                    if !(clone && *out == Out::CloneDetected) {
                        s.ghost.bad.get_or_insert((
                            "(c) the previous OTP with the right PIN destroys the key",
                            format!("{msg:?} presented the previous OTP: answered {out:?}"),
                        ));
                    }
                }
            }
        }
        s.record = next;
        for w in &mut s.workers {
            if let Worker::Admitted { fresh, .. } = w {
                *fresh = false;
            }
        }
    }

    /// Receive: load + admit (+ CAS of the charge). Load and CAS are one atomic step: a lost
    /// race only restarts from the load, which is a later `Receive` of the same message.
    fn receive(&self, s: &State, w: usize, msg: Msg) -> State {
        let facts = self.facts(msg);
        let mut n = s.clone();
        if msg.author == Author::Attacker {
            n.attacker.delivered |= 1 << msg.seq;
        }
        match (self.rules.admit)(&s.record, &facts, &self.cfg.policy, s.now) {
            Admission::Resend(stored) => self.reply_stored(&mut n, &stored),
            Admission::Refuse(o) => self.reply(&mut n, msg, out_of(&o), None),
            Admission::Evaluate => {
                n.workers[w] = Worker::Admitted {
                    msg,
                    record: Box::new(s.record.clone()),
                    fresh: true,
                };
            }
            Admission::Charge(charged) => {
                self.commit(&mut n, charged.clone(), Commit::Charge(msg));
                n.workers[w] = Worker::Admitted {
                    msg,
                    record: Box::new(charged),
                    fresh: true,
                };
            }
        }
        n
    }

    /// Evaluate on the admitted record, then settle on it (the shell's first attempt).
    fn evaluate_and_settle(&self, s: &State, w: usize) -> State {
        let Worker::Admitted { msg, record, fresh } = s.workers[w].clone() else {
            unreachable!()
        };
        let mut n = s.clone();
        // The shell's `evaluate` recomputes EM from the request the message was charged for,
        // kept beside its unresolved charge in the admitted record.
        let facts = self.facts(msg);
        let Some(charged) = record.active().and_then(|a| {
            a.unresolved()
                .iter()
                .find(|u| u.message_hash() == &facts.message_hash)
        }) else {
            n.workers[w] = Worker::Idle; // an error: nothing answered, nothing written
            return n;
        };
        let valid = msg.right && charged.request().request_id() == &Self::rid(msg.req);
        let next_otp = self.gen_of(record.active().unwrap().otp_current()) + 1;
        if !n.ghost.ever_charged.contains(&msg) {
            n.ghost.bad.get_or_insert((
                "(h) every evaluation is a counted attempt",
                format!("{msg:?} evaluated without a persisted charge"),
            ));
        }
        if !msg.right {
            n.ghost.evaluated_wrong.insert(msg);
        }
        self.settle_on(&mut n, w, msg, valid, next_otp, &record, fresh);
        n
    }

    /// After a lost CAS: reload, settle again with the same evaluation, CAS (atomic: a lost
    /// race again is the same step later).
    fn reload_and_settle(&self, s: &State, w: usize) -> State {
        let Worker::Retry {
            msg,
            valid,
            next_otp,
        } = s.workers[w].clone()
        else {
            unreachable!()
        };
        let mut n = s.clone();
        let record = s.record.clone();
        self.settle_on(&mut n, w, msg, valid, next_otp, &record, true);
        n
    }

    #[allow(clippy::too_many_arguments)]
    fn settle_on(
        &self,
        n: &mut State,
        w: usize,
        msg: Msg,
        valid: bool,
        next_otp: u8,
        base: &KeyRecord,
        fresh: bool,
    ) {
        let facts = self.facts(msg);
        let evaluation = if valid {
            Evaluation::Valid {
                signature: Vec::new(),
            }
        } else {
            Evaluation::Invalid
        };
        let settlement = (self.rules.settle)(
            base,
            &facts,
            evaluation,
            &self.otp_hashes[usize::from(next_otp)],
            &self.cfg.policy,
            n.now,
        );
        n.workers[w] = Worker::Idle;
        match settlement {
            Settlement::Resend(stored) => self.reply_stored(n, &stored),
            Settlement::Answer(o) => self.reply(n, msg, out_of(&o), None),
            Settlement::Persist(mut next, o) => {
                let out = out_of(&o);
                let issued = (out == Out::Completed).then_some(next_otp);
                let response = self.sealed(msg, issued);
                (self.rules.record_answer)(&mut next, facts.message_hash, &o, response);
                if fresh {
                    // SPEC §4.5 h: a right-PIN message for the pending request with the
                    // previous OTP is a clone.
                    let base_previous = is_previous(base, &facts.otp_hash)
                        && base.active().and_then(|a| a.pending()).is_some_and(|p| {
                            p.request_id() == &facts.request_id
                                && p.request_hash() == &facts.request_hash
                        });
                    self.commit(
                        n,
                        next,
                        Commit::Settled {
                            msg,
                            valid,
                            base_previous,
                            out,
                        },
                    );
                    self.reply(n, msg, out, issued);
                } else {
                    // The shell keeps the evaluation and the OTP it drew; it reloads.
                    n.workers[w] = Worker::Retry {
                        msg,
                        valid,
                        next_otp,
                    };
                }
            }
        }
    }

    /// Runs worker `w` until it is idle (for the liveness path).
    fn drain(&self, s: &mut State, w: usize) {
        loop {
            *s = match &s.workers[w] {
                Worker::Idle => return,
                Worker::Admitted { .. } => self.evaluate_and_settle(s, w),
                Worker::Retry { .. } => self.reload_and_settle(s, w),
            };
        }
    }

    /// Symmetry reduction: the attacker's messages that differ only in their sequence number
    /// are interchangeable, so their *first* deliveries are explored in sequence order only
    /// (any other order is the same run with the numbers renamed). Replays are unrestricted.
    fn first_delivery_in_order(&self, s: &State, m: Msg) -> bool {
        if m.author != Author::Attacker || s.attacker.delivered & (1 << m.seq) != 0 {
            return true;
        }
        !s.msgs.iter().any(|o| {
            o.author == Author::Attacker
                && o.seq < m.seq
                && (o.req, o.otp, o.right) == (m.req, m.otp, m.right)
                && s.attacker.delivered & (1 << o.seq) == 0
        })
    }

    fn may_sign(&self, d: &Device) -> bool {
        (self.rules.may_sign)(d.dead, d.pending.is_some()).is_ok()
    }

    /// (i), liveness-flavoured: from a state where the device has a pending exchange, the
    /// path "in-flight work finishes, the device resends, a worker handles it, the answer is
    /// delivered" resolves the exchange, as Completed or NotPending (or WrongPin / Locked
    /// after a wrong PIN).
    fn resolution(&self, s: &State) -> Result<(), Violation> {
        let Some(pending) = s.device.pending.filter(|_| !s.device.dead) else {
            return Ok(());
        };
        let mut t = s.clone();
        for w in 0..t.workers.len() {
            self.drain(&mut t, w);
        }
        let resolving = |t: &State| -> Vec<Ans> {
            t.answers
                .iter()
                .filter(|a| {
                    a.to == pending
                        && (self.rules.answer_effect)(&outcome_of(a.out)) != AnswerEffect::Wait
                })
                .copied()
                .collect()
        };
        for _ in 0..3 {
            if !resolving(&t).is_empty() {
                break;
            }
            if let Some(until) = t.record.active().and_then(|a| a.locked_until()) {
                t.now = t.now.max(until);
            }
            t = self.receive(&t, 0, pending);
            self.drain(&mut t, 0);
        }
        let answers = resolving(&t);
        if answers.is_empty() {
            return Err(Violation {
                property: "(i) a pending exchange resolves",
                detail: format!("resending {pending:?} gets no answer that resolves it"),
            });
        }
        for a in answers {
            let ok = match a.out {
                Out::Completed | Out::NotPending => true,
                Out::WrongPin(..) | Out::Locked(_) => s.device.wrong > 0,
                _ => false,
            };
            if !ok {
                return Err(Violation {
                    property: "(i) a signed request ends as Completed or NotPending",
                    detail: format!("the exchange of {pending:?} can end as {:?}", a.out),
                });
            }
        }
        Ok(())
    }
}

#[derive(Debug)]
enum Commit {
    Request,
    Charge(Msg),
    Settled {
        msg: Msg,
        valid: bool,
        base_previous: bool,
        out: Out,
    },
}

impl Model for SessionModel {
    type State = State;
    type Action = Action;

    fn initial(&self) -> State {
        State {
            record: self.initial_record(),
            now: NOW0,
            created: 0,
            workers: vec![Worker::Idle; self.cfg.workers],
            device: Device {
                otp: 0,
                pending: None,
                dead: false,
                signs: 0,
                wrong: 0,
            },
            attacker: Attacker {
                stolen: false,
                delivered: 0,
                known: 0,
                sent: 0,
            },
            msgs: BTreeSet::new(),
            answers: BTreeSet::new(),
            ghost: Ghost::default(),
        }
    }

    fn successors(&self, s: &State, out: &mut Vec<(Action, State)>) {
        let cfg = &self.cfg;
        // The relying party.
        if s.created < cfg.requests {
            let r = s.created;
            if let Ok(next) = (self.rules.start_request)(
                &s.record,
                &self.requests[usize::from(r)],
                &cfg.policy,
                s.now,
            ) {
                let mut n = s.clone();
                self.commit(&mut n, next, Commit::Request);
                n.created += 1;
                out.push((Action::CreateRequest(r), n));
            }
        }
        // Server workers (interchangeable: a message goes to the first idle one).
        if let Some(w) = s.workers.iter().position(|w| matches!(w, Worker::Idle)) {
            for &msg in &s.msgs {
                if !self.first_delivery_in_order(s, msg) {
                    continue;
                }
                out.push((Action::Receive { worker: w, msg }, self.receive(s, w, msg)));
            }
        }
        for (w, worker) in s.workers.iter().enumerate() {
            match worker {
                Worker::Idle => continue,
                Worker::Admitted { .. } => out.push((
                    Action::EvaluateAndSettle { worker: w },
                    self.evaluate_and_settle(s, w),
                )),
                Worker::Retry { .. } => out.push((
                    Action::ReloadAndSettle { worker: w },
                    self.reload_and_settle(s, w),
                )),
            }
            if cfg.crashes {
                let mut n = s.clone();
                n.workers[w] = Worker::Idle;
                out.push((Action::Crash { worker: w }, n));
            }
        }
        // Time, only to let a lock run out.
        if let Some(until) = s
            .record
            .active()
            .and_then(|a| a.locked_until())
            .filter(|&u| u > s.now)
        {
            let mut n = s.clone();
            n.now = until;
            out.push((Action::LockRunsOut { now: until }, n));
        }
        // The honest device.
        let d = s.device;
        if d.signs < cfg.signs && self.may_sign(&d) {
            for req in 0..s.created {
                for right_pin in [true, false] {
                    if !right_pin && d.wrong >= cfg.wrong_pins {
                        continue;
                    }
                    let msg = Msg {
                        author: Author::Device,
                        req,
                        otp: d.otp,
                        right: right_pin,
                        seq: d.signs,
                    };
                    let mut n = s.clone();
                    n.device.pending = Some(msg);
                    n.device.signs += 1;
                    n.device.wrong += u8::from(!right_pin);
                    n.msgs.insert(msg);
                    out.push((Action::DeviceSigns { req, right_pin }, n));
                }
            }
        }
        if let Some(p) = d.pending {
            for &a in s.answers.iter().filter(|a| a.to == p) {
                let effect = (self.rules.answer_effect)(&outcome_of(a.out));
                if effect == AnswerEffect::Wait {
                    continue; // opened, and the exchange stays pending: no state change
                }
                let mut n = s.clone();
                n.device.pending = None;
                match effect {
                    AnswerEffect::Complete => {
                        n.device.otp = a.next_otp.expect("a completion carries the next OTP");
                        n.ghost.device_done = Some(p.otp);
                    }
                    AnswerEffect::End | AnswerEffect::Wait => {}
                    AnswerEffect::Dead => n.device.dead = true,
                }
                out.push((Action::DeviceAccepts(a), n));
            }
        }
        // The attacker.
        if cfg.attacker != AttackerKind::None {
            if !s.attacker.stolen {
                let mut n = s.clone();
                n.attacker.stolen = true;
                n.attacker.known = 1 << d.otp;
                out.push((
                    Action::Steal {
                        otp: d.otp,
                        pending: d.pending,
                    },
                    n,
                ));
            } else if s.attacker.sent < cfg.attacker_msgs && s.created > 0 {
                for otp in 0..MAX_GEN as u8 {
                    if s.attacker.known & (1 << otp) == 0 {
                        continue;
                    }
                    let msg = Msg {
                        author: Author::Attacker,
                        req: s.created - 1,
                        otp,
                        right: cfg.attacker == AttackerKind::Clone,
                        seq: s.attacker.sent,
                    };
                    let mut n = s.clone();
                    n.attacker.sent += 1;
                    n.msgs.insert(msg);
                    out.push((Action::AttackerSends(msg), n));
                }
            }
        }
    }

    fn encode(&self, s: &State, buf: &mut Vec<u8>) {
        buf.extend_from_slice(&s.record.to_bytes());
        buf.extend_from_slice(&s.now.to_be_bytes());
        buf.push(s.created);
        let mut ws: Vec<Vec<u8>> = s
            .workers
            .iter()
            .map(|w| match w {
                Worker::Idle => vec![0],
                Worker::Admitted { msg, record, fresh } => {
                    let mut v = vec![1, u8::from(*fresh)];
                    v.extend_from_slice(&msg.encode());
                    v.extend_from_slice(&record.to_bytes());
                    v
                }
                Worker::Retry {
                    msg,
                    valid,
                    next_otp,
                } => {
                    let mut v = vec![2, u8::from(*valid), *next_otp];
                    v.extend_from_slice(&msg.encode());
                    v
                }
            })
            .collect();
        ws.sort(); // the workers are interchangeable (symmetry reduction)
        for w in ws {
            buf.extend_from_slice(&(w.len() as u32).to_be_bytes());
            buf.extend_from_slice(&w);
        }
        let d = &s.device;
        buf.extend_from_slice(&[d.otp, u8::from(d.dead), d.signs, d.wrong]);
        match d.pending {
            Some(m) => {
                buf.push(1);
                buf.extend_from_slice(&m.encode());
            }
            None => buf.push(0),
        }
        buf.push(u8::from(s.attacker.stolen));
        buf.extend_from_slice(&s.attacker.delivered.to_be_bytes());
        buf.extend_from_slice(&s.attacker.known.to_be_bytes());
        buf.push(s.attacker.sent);
        buf.push(0xF0);
        for m in &s.msgs {
            buf.extend_from_slice(&m.encode());
        }
        buf.push(0xF1);
        for a in &s.answers {
            buf.extend_from_slice(&a.to.encode());
            buf.extend_from_slice(format!("{:?}{:?};", a.out, a.next_otp).as_bytes());
        }
        let g = &s.ghost;
        for set in [&g.charged, &g.ever_charged, &g.evaluated_wrong] {
            buf.push(0xF2);
            for m in set {
                buf.extend_from_slice(&m.encode());
            }
        }
        buf.extend_from_slice(&[
            g.max_completed.map_or(0xFF, |x| x),
            g.device_done.map_or(0xFF, |x| x),
            u8::from(g.bad.is_some()),
        ]);
    }

    fn check(&self, s: &State) -> Result<(), Violation> {
        if let Some((property, detail)) = &s.ghost.bad {
            return Err(Violation {
                property,
                detail: detail.clone(),
            });
        }
        let active = s.record.active();
        if self.cfg.attacker != AttackerKind::Clone
            && s.record
                .destroyed()
                .is_some_and(|(r, _)| r == split_rsa::DestroyReason::Clone)
        {
            return Err(Violation {
                property: "(c) a clone is detected only when there is one",
                detail: "destroyed for a clone, but no copy of the share has the PIN".into(),
            });
        }
        if self.cfg.check_i {
            if s.record.destroyed().is_some() {
                return Err(Violation {
                    property: "(i) honest runs never lose the key",
                    detail: format!("destroyed: {:?}", s.record.destroyed()),
                });
            }
            if s.device.dead {
                return Err(Violation {
                    property: "(i) honest runs never lose the key",
                    detail: "the device was told its key is dead".into(),
                });
            }
            if let Some(a) = active {
                let current = self.gen_of(a.otp_current());
                if s.device.pending.is_none() && s.device.otp != current {
                    return Err(Violation {
                        property: "(i) honest runs never lose a rotation",
                        detail: format!(
                            "the device holds OTP {} with no exchange pending; the server's \
                             current OTP is {current}",
                            s.device.otp
                        ),
                    });
                }
                let honest_charges = s
                    .ghost
                    .charged
                    .iter()
                    .filter(|m| m.author == Author::Device)
                    .count();
                if a.failures() as usize > honest_charges {
                    return Err(Violation {
                        property: "(i) no attempt is charged that no PIN entry caused",
                        detail: format!(
                            "count {} for {honest_charges} PIN entries charged since the last \
                             completion",
                            a.failures()
                        ),
                    });
                }
                if self.cfg.strict_i {
                    let quiescent = s.device.pending.is_none()
                        && s.workers.iter().all(|w| matches!(w, Worker::Idle));
                    if a.locked_until().is_some() || (quiescent && a.failures() > 0) {
                        return Err(Violation {
                            property: "(i) a right-PIN user is never locked or left charged",
                            detail: format!(
                                "count {}, locked until {:?}, quiescent {quiescent}",
                                a.failures(),
                                a.locked_until()
                            ),
                        });
                    }
                }
            }
            self.resolution(s)?;
        }
        if let Some(a) = active
            && a.failures() as usize != s.ghost.charged.len()
        {
            return Err(Violation {
                property: "(h) the count equals the distinct charged messages",
                detail: format!(
                    "count {} but {} distinct messages charged since the last completion: {:?}",
                    a.failures(),
                    s.ghost.charged.len(),
                    s.ghost.charged
                ),
            });
        }
        let destroy_at = self.cfg.policy.destroy_at() as usize;
        if s.ghost.evaluated_wrong.len() > destroy_at {
            return Err(Violation {
                property: "(h) at most destroy_at wrong PINs evaluated between completions",
                detail: format!("{:?}", s.ghost.evaluated_wrong),
            });
        }
        Ok(())
    }

    fn describe(&self, s: &State) -> String {
        let rec = match s.record.active() {
            Some(a) => format!(
                "failures {} locked_until {:?} otp cur {} prev {:?} pending {:?} unresolved {} \
                 last {:?} completed {:?}",
                a.failures(),
                a.locked_until(),
                self.gen_of(a.otp_current()),
                a.otp_previous().map(|h| self.gen_of(h)),
                a.pending()
                    .map(|p| (p.request_id().as_bytes()[0] - 1, p.tried().len())),
                a.unresolved().len(),
                a.last().map(|x| x.summary()),
                a.completed().map(|x| x.summary()),
            ),
            None => format!("DESTROYED {:?}", s.record.destroyed()),
        };
        let workers: Vec<String> = s
            .workers
            .iter()
            .map(|w| match w {
                Worker::Idle => "idle".to_string(),
                Worker::Admitted { msg, fresh, .. } => {
                    format!("admitted {msg:?}{}", if *fresh { "" } else { " (stale)" })
                }
                Worker::Retry { msg, valid, .. } => format!("retry {msg:?} valid={valid}"),
            })
            .collect();
        format!(
            "server[{rec}] now {} requests {} workers {workers:?} device {:?} attacker {:?}",
            s.now, s.created, s.device, s.attacker
        )
    }

    fn observe(&self, s: &State, seen: &mut Vec<&'static str>) {
        match s.record.destroyed() {
            Some((split_rsa::DestroyReason::Clone, _)) => seen.push("destroyed: clone"),
            Some((split_rsa::DestroyReason::WrongPins, _)) => seen.push("destroyed: wrong PINs"),
            Some(_) => seen.push("destroyed: other"),
            None => {}
        }
        if let Some(a) = s.record.active() {
            if a.locked_until().is_some_and(|u| u > s.now) {
                seen.push("locked");
            }
            if a.failures() > 0 {
                seen.push("count > 0");
            }
            if !a.unresolved().is_empty() {
                seen.push("charge in flight");
            }
        }
        if s.ghost.device_done.is_some() {
            seen.push("device completed a signature");
        }
        if s.device.pending.is_some() {
            seen.push("device pending");
        }
        if s.workers.iter().any(|w| matches!(w, Worker::Retry { .. })) {
            seen.push("a worker lost a CAS");
        }
        if s.workers
            .iter()
            .filter(|w| !matches!(w, Worker::Idle))
            .count()
            > 1
        {
            seen.push("two workers busy");
        }
        if s.answers.iter().any(|a| a.out == Out::NotPending) {
            seen.push("device got NotPending");
        }
        if s.attacker.stolen {
            seen.push("record stolen");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Running configurations
// ---------------------------------------------------------------------------------------

/// A generous cap: every configuration below finishes far under it.
const MAX_STATES: u64 = 1_500_000;

fn run(cfg: Config, rules: Rules) -> Report {
    let name = cfg.name;
    let model = SessionModel::new(cfg, rules);
    let report = explore(&model, MAX_STATES);
    println!(
        "[model] {name} / {}: {} states, {} transitions, depth {}, {:.2?}{}",
        rules.name,
        report.states,
        report.transitions,
        report.depth,
        report.elapsed,
        if report.truncated { " (TRUNCATED)" } else { "" }
    );
    for (fact, n) in &report.coverage {
        println!("[model]     {n:>9} states: {fact}");
    }
    if let Some(c) = &report.counterexample {
        println!("[model] counterexample:\n{c}");
    }
    report
}

/// Runs `cfg` with the production rules and expects every property to hold, at least
/// `min_states` states, and the listed coverage facts to be reached (non-vacuity).
fn expect_holds(cfg: Config, min_states: u64, must_reach: &[&str]) -> Report {
    expect_holds_with(cfg, PRODUCTION, min_states, must_reach)
}

fn expect_holds_with(cfg: Config, rules: Rules, min_states: u64, must_reach: &[&str]) -> Report {
    let report = run(cfg, rules);
    if let Some(c) = &report.counterexample {
        panic!("{c}");
    }
    assert!(!report.truncated, "state limit reached");
    assert!(
        report.states >= min_states,
        "only {} states explored (expected at least {min_states})",
        report.states
    );
    for fact in must_reach {
        assert!(
            report.coverage.contains_key(fact),
            "never reached: {fact} (the property would be vacuous)"
        );
    }
    report
}

/// Runs `cfg` with `rules` and expects a counterexample to `property` (a prefix of the
/// violated property's name); and, as a control, none with the `control` rules.
fn expect_caught(cfg: Config, rules: Rules, control: Rules, property: &str) {
    let report = run(cfg.clone(), rules);
    let c = report
        .counterexample
        .unwrap_or_else(|| panic!("the planted bug {} was not caught", rules.name));
    assert!(
        c.violation.property.starts_with(property),
        "caught as {} instead of {property}:\n{c}",
        c.violation.property
    );
    let control = run(cfg, control);
    if let Some(c) = &control.counterexample {
        panic!("the control run (without the plant) fails too:\n{c}");
    }
}

// --- configurations ---------------------------------------------------------------------

/// No attacker, one worker, crashes: (h), (i) in the SPEC's form, (c).
fn honest_one_worker() -> Config {
    Config {
        name: "honest, 1 worker, crashes, 4 requests, 5 signatures",
        policy: LockoutPolicy::default(),
        workers: 1,
        requests: 4,
        signs: 5,
        wrong_pins: 0,
        attacker: AttackerKind::None,
        attacker_msgs: 0,
        crashes: true,
        check_i: true,
        strict_i: false,
    }
}

/// No attacker, one worker, no crash: the strict form of (i) (never locked or charged).
fn honest_no_crash() -> Config {
    Config {
        name: "honest, 1 worker, no crash, 4 requests, 5 signatures",
        policy: LockoutPolicy::default(),
        workers: 1,
        requests: 4,
        signs: 5,
        wrong_pins: 0,
        attacker: AttackerKind::None,
        attacker_msgs: 0,
        crashes: false,
        check_i: true,
        strict_i: true,
    }
}

/// No attacker, two workers (concurrent handling), one request.
fn honest_two_workers_one_request() -> Config {
    Config {
        name: "honest, 2 workers, crashes, 1 request, 4 signatures",
        policy: LockoutPolicy::default(),
        workers: 2,
        requests: 1,
        signs: 4,
        wrong_pins: 0,
        attacker: AttackerKind::None,
        attacker_msgs: 0,
        crashes: true,
        check_i: true,
        strict_i: false,
    }
}

/// No attacker, two workers, the relying party replaces requests.
fn honest_two_workers() -> Config {
    Config {
        name: "honest, 2 workers, crashes, 3 requests, 4 signatures",
        policy: LockoutPolicy::default(),
        workers: 2,
        requests: 3,
        signs: 4,
        wrong_pins: 0,
        attacker: AttackerKind::None,
        attacker_msgs: 0,
        crashes: true,
        check_i: true,
        strict_i: false,
    }
}

/// The user mistypes the PIN (bounded): the count is exact; small policy (lock at 2,
/// destroy at 3) so that locks and destruction are reached.
fn wrong_pin_user() -> Config {
    Config {
        name: "user with wrong PINs, policy 2/3, 1 worker, crashes",
        policy: small_policy(),
        workers: 1,
        requests: 2,
        signs: 5,
        wrong_pins: 3,
        attacker: AttackerKind::None,
        attacker_msgs: 0,
        crashes: true,
        check_i: false,
        strict_i: false,
    }
}

/// Model A: a thief with a copy of the device record, no PIN; the honest user keeps
/// signing. Small policy.
fn thief_small_policy() -> Config {
    Config {
        name: "thief (model A), policy 2/3, 1 worker, crashes",
        policy: small_policy(),
        workers: 1,
        requests: 2,
        signs: 3,
        wrong_pins: 0,
        attacker: AttackerKind::Thief,
        attacker_msgs: 5,
        crashes: true,
        check_i: false,
        strict_i: false,
    }
}

/// Model A with the default 3/6/9 policy: the thief has enough messages to reach the
/// destroy threshold.
fn thief_default_policy() -> Config {
    Config {
        name: "thief (model A), policy 3/6/9, 1 worker, no crash",
        policy: LockoutPolicy::default(),
        workers: 1,
        requests: 1,
        signs: 1,
        wrong_pins: 0,
        attacker: AttackerKind::Thief,
        attacker_msgs: 10,
        crashes: false,
        check_i: false,
        strict_i: false,
    }
}

/// Model A with two workers.
fn thief_two_workers() -> Config {
    Config {
        name: "thief (model A), policy 2/3, 2 workers, crashes",
        policy: small_policy(),
        workers: 2,
        requests: 2,
        signs: 2,
        wrong_pins: 0,
        attacker: AttackerKind::Thief,
        attacker_msgs: 3,
        crashes: true,
        check_i: false,
        strict_i: false,
    }
}

/// Model B: a clone with the right PIN.
fn clone_one_worker() -> Config {
    Config {
        name: "clone (model B), 1 worker, crashes",
        policy: LockoutPolicy::default(),
        workers: 1,
        requests: 2,
        signs: 3,
        wrong_pins: 0,
        attacker: AttackerKind::Clone,
        attacker_msgs: 3,
        crashes: true,
        check_i: false,
        strict_i: false,
    }
}

/// Model B with two workers.
fn clone_two_workers() -> Config {
    Config {
        name: "clone (model B), 2 workers, crashes",
        policy: LockoutPolicy::default(),
        workers: 2,
        requests: 2,
        signs: 2,
        wrong_pins: 0,
        attacker: AttackerKind::Clone,
        attacker_msgs: 2,
        crashes: true,
        check_i: false,
        strict_i: false,
    }
}

// ---------------------------------------------------------------------------------------
// Tests: the properties hold for the production rules
// ---------------------------------------------------------------------------------------

#[test]
fn honest_no_crash_holds() {
    expect_holds(
        honest_no_crash(),
        10_000,
        &[
            "device completed a signature",
            "device got NotPending",
            "a worker lost a CAS",
        ],
    );
}

#[test]
fn honest_one_worker_holds() {
    expect_holds(
        honest_one_worker(),
        10_000,
        &[
            "device completed a signature",
            "charge in flight",
            "device got NotPending",
        ],
    );
}

#[test]
fn honest_two_workers_one_request_holds() {
    expect_holds(
        honest_two_workers_one_request(),
        30,
        &[
            "two workers busy",
            "a worker lost a CAS",
            "device completed a signature",
        ],
    );
}

#[test]
fn thief_default_policy_holds() {
    expect_holds(
        thief_default_policy(),
        100_000,
        &[
            "locked",
            "destroyed: wrong PINs",
            "device completed a signature",
        ],
    );
}

#[test]
fn clone_one_worker_holds() {
    expect_holds(
        clone_one_worker(),
        50_000,
        &[
            "destroyed: clone",
            "device completed a signature",
            "record stolen",
        ],
    );
}

#[test]
fn clone_two_workers_holds() {
    expect_holds(
        clone_two_workers(),
        20_000,
        &[
            "destroyed: clone",
            "two workers busy",
            "a worker lost a CAS",
        ],
    );
}

// ---------------------------------------------------------------------------------------
// The configurations in which the model checker found the three session bugs that are now
// fixed in the production rules (docs/model-checking.md, "Findings"): every unresolved charge
// is kept with its request and evaluated again on resend whatever happened since (findings 1
// and 3), and a Locked answer keeps the device's exchange pending (finding 2). They hold now.
// ---------------------------------------------------------------------------------------

#[test]
fn finding_1_honest_two_workers_holds() {
    expect_holds(
        honest_two_workers(),
        5_000,
        &[
            "two workers busy",
            "a worker lost a CAS",
            "device completed a signature",
        ],
    );
}

#[test]
fn finding_2_wrong_pin_user_holds() {
    expect_holds(
        wrong_pin_user(),
        10_000,
        &[
            "locked",
            "destroyed: wrong PINs",
            "device completed a signature",
        ],
    );
}

#[test]
fn finding_2_thief_small_policy_holds() {
    expect_holds(
        thief_small_policy(),
        100_000,
        &[
            "locked",
            "destroyed: wrong PINs",
            "device completed a signature",
        ],
    );
}

#[test]
fn finding_3_thief_two_workers_holds() {
    expect_holds(
        thief_two_workers(),
        50_000,
        &[
            "two workers busy",
            "destroyed: wrong PINs",
            "device completed a signature",
        ],
    );
}

/// The strict form of (i) with server crashes: a crash between a charge and its outcome
/// leaves a charge that only the device's resend resolves; with the request kept beside the
/// charge, the resend completes even after the relying party replaced the request, so no
/// right-PIN attempt stays charged once the device is idle.
#[test]
fn observation_4_crashes_do_not_lock_a_right_pin_user() {
    let cfg = Config {
        name: "honest, 1 worker, crashes, strict (i)",
        strict_i: true,
        ..honest_one_worker()
    };
    expect_holds(cfg, 1_000, &[]);
}

// ---------------------------------------------------------------------------------------
// Tests: planted bugs are caught, each as a violation of its property, and the control run
// (the same configuration with the production rules) finds nothing
// ---------------------------------------------------------------------------------------

#[test]
fn planted_h_v1_resend_resets_count() {
    let plant = Rules {
        name: "plant (h): a resend answered from storage resets the count (the v1 bug)",
        admit: plant_admit_resend_resets,
        ..PRODUCTION
    };
    expect_caught(thief_default_policy(), plant, PRODUCTION, "(h)");
}

#[test]
fn planted_h_replayed_try_charged_again() {
    let plant = Rules {
        name: "plant (h): a replayed older try is charged again",
        admit: plant_admit_replay_charged,
        ..PRODUCTION
    };
    expect_caught(thief_default_policy(), plant, PRODUCTION, "(h)");
}

#[test]
fn planted_i_resend_after_crash_charged_again() {
    let plant = Rules {
        name: "plant (i): a resend after a crash is charged again",
        admit: plant_admit_resend_charged,
        ..PRODUCTION
    };
    expect_caught(honest_one_worker(), plant, PRODUCTION, "(i)");
}

#[test]
fn planted_i_settle_destroys_on_lost_answer() {
    let plant = Rules {
        name: "plant (i): settle re-judges a message settled meanwhile as a clone",
        settle: plant_settle_lost_answer_destroys,
        ..PRODUCTION
    };
    expect_caught(honest_two_workers_one_request(), plant, PRODUCTION, "(i)");
}

#[test]
fn planted_i_device_signs_while_pending() {
    let plant = Rules {
        name: "plant (i): the device signs while an exchange is pending",
        may_sign: plant_may_sign_ignores_pending,
        ..PRODUCTION
    };
    expect_caught(honest_no_crash(), plant, PRODUCTION, "(i)");
}

#[test]
fn planted_c_previous_otp_as_current() {
    let plant = Rules {
        name: "plant (c): settle treats the previous OTP as current",
        settle: plant_settle_previous_as_current,
        ..PRODUCTION
    };
    expect_caught(clone_one_worker(), plant, PRODUCTION, "(c)");
}

/// Every configuration with the production rules and with the proposed fixes, printing the
/// state counts, times and the first counterexample of each (for docs/model-checking.md):
/// `cargo test --release --all-features --test model -- --ignored survey --nocapture`.
#[test]
#[ignore = "a survey for the documentation; the assertions are in the other tests"]
fn survey() {
    let configs = [
        honest_no_crash(),
        honest_one_worker(),
        honest_two_workers_one_request(),
        honest_two_workers(),
        wrong_pin_user(),
        thief_small_policy(),
        thief_default_policy(),
        thief_two_workers(),
        clone_one_worker(),
        clone_two_workers(),
    ];
    for cfg in configs {
        let rules = PRODUCTION;
        let r = run(cfg.clone(), rules);
        println!(
            "[survey] {} / {}: {} states, {:.2?}: {}",
            cfg.name,
            rules.name,
            r.states,
            r.elapsed,
            r.counterexample
                .as_ref()
                .map_or("holds".to_string(), |c| c.violation.property.to_string())
        );
    }
}
