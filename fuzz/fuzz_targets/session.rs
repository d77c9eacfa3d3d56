//! Stateful target: the signing session of SPEC §4 between one real `Server` and one real
//! `DeviceRecord`, under loss, duplication, replay, corruption, crashes, store faults and an
//! attacker holding copies of the device record (SPEC §1 (c), (d), (h), (i), §7, §10).
//!
//! The key is registered once per process (1024 + 1024-bit test halves, in-memory store); every
//! input starts from the registered state (the store is reset to the saved record blob, the
//! device to its saved record bytes) and is read as a sequence of operations, one byte each
//! plus operands (see `Op`): create a request; the device signs it with the right or a wrong
//! PIN (and the application persists the record before sending, SPEC §10); deliver any
//! recorded message (a first delivery, a duplicate or a replay; not delivering is dropping);
//! the device accepts any recorded answer, or a copy with one byte corrupted; the device
//! crashes and restarts from its last persisted bytes; the device resends its pending
//! message; an attacker takes a copy of the device record, sends wrong-PIN messages from it
//! and resolves its own exchanges; the store fails a chosen compare-and-swap; time passes.
//!
//! After every step, from the server's record (decoded from the store) and a model of what
//! was charged:
//! - the failure count never exceeds the policy's destroy threshold;
//! - it changes only when a message is delivered: +1 for a message never charged before since
//!   the last completion (never twice for one message), back to 0 only on a completed
//!   signature (nothing else resets it);
//! - it equals the number of messages charged since the last completion, and each of those is
//!   a wrong-PIN message, except a right-PIN message whose outcome was lost to a store fault
//!   (charged, not settled); a right PIN is never charged otherwise;
//! - a completed signature verifies under the key (`split_rsa::verify`);
//! - no clone is ever detected (nobody here holds a second copy of the share with the right
//!   PIN except replays of the device's own messages), so the key is only ever destroyed for
//!   wrong PINs, and then only after `destroy_at` charged wrong PINs;
//! - a corrupted answer is refused by the device and changes nothing.
//!
//! At the end of an honest-only input (no attacker step, no wrong PIN), the device resolves
//! its pending exchange (resend, deliver, accept, no fault) and then signs once more: the key
//! is not destroyed, the device is not dead, the failure count is exactly the number of
//! right-PIN messages whose outcome was lost to a store fault and that can no longer be
//! evaluated (their request was replaced: "orphaned" charges), and unless those reach the
//! lock threshold, the new signature completes and verifies (no lost rotation, no clone,
//! SPEC §1 (i)).
#![no_main]

#[path = "common/mod.rs"]
mod common;

use std::sync::OnceLock;

use common::{T0, World, right_pin, wrong_pin};
use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use split_rsa::{
    DestroyReason, DeviceRecord, Error, HashAlg, KeyPurpose, Outcome, Scheme,
    SealedPartialSignature, SealedResponse, SigningRequest, verify,
};

const MAX_OPS: usize = 24;

/// `SESSION_TRACE=1` prints every delivery (to read what a seed or a crash does).
fn trace() -> bool {
    static T: OnceLock<bool> = OnceLock::new();
    *T.get_or_init(|| std::env::var_os("SESSION_TRACE").is_some())
}

/// The end-of-input check `resolve_threshold` is always on: a charged message whose outcome
/// was lost is evaluated again on resend whatever happened to its request since (SPEC §4.5 g;
/// the reproducer `fuzz/repro/session-threshold-expired` used to leave the key stuck).
fn strict() -> bool {
    true
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| World::build(0x5e55_1000))
}

/// Who produced a message, and with which PIN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    Honest { right: bool },
    Attacker,
}

struct Sent {
    message: SealedPartialSignature,
    request: SigningRequest,
    origin: Origin,
}

/// Reads operands from the input.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn pick<T>(&mut self, items: &[T]) -> Option<usize> {
        if items.is_empty() {
            return None;
        }
        Some(usize::from(self.byte().unwrap_or(0)) % items.len())
    }
}

const SCHEMES: [Scheme; 4] = [
    Scheme::Pkcs1v15(HashAlg::Sha256),
    Scheme::Pss(HashAlg::Sha256),
    Scheme::Pkcs1v15(HashAlg::Sha512),
    Scheme::Pss(HashAlg::Sha384),
];

struct Session {
    rng: ChaCha20Rng,
    now: u64,
    device: DeviceRecord,
    /// The device's last persisted bytes (SPEC §10: after every change, before sending).
    persisted: Vec<u8>,
    attacker: Option<DeviceRecord>,
    requests: Vec<SigningRequest>,
    sent: Vec<Sent>,
    answers: Vec<SealedResponse>,
    /// Messages charged since the last completion: (hash, right PIN and lost to a fault).
    charged: Vec<([u8; 32], bool)>,
    honest: bool,
    destroy_at: u32,
    lock_at: u32,
}

impl Session {
    fn new() -> Session {
        let w = world();
        w.reset_to(&w.record);
        let lockout = w.server.policy().lockout();
        Session {
            rng: ChaCha20Rng::seed_from_u64(7),
            now: T0 + 10,
            device: DeviceRecord::from_bytes(&w.device).unwrap(),
            persisted: w.device.clone(),
            attacker: None,
            requests: Vec::new(),
            sent: Vec::new(),
            answers: Vec::new(),
            charged: Vec::new(),
            honest: true,
            destroy_at: lockout.destroy_at(),
            lock_at: lockout.steps().first().map_or(u32::MAX, |s| s.at_failures),
        }
    }

    fn persist(&mut self) {
        self.persisted = self.device.to_bytes().to_vec();
    }

    /// The failure count, or `None` once destroyed (with the reason checked).
    fn failures(&self) -> Option<u32> {
        let r = world().record_now();
        match r.destroyed() {
            Some((reason, _)) => {
                assert_eq!(reason, DestroyReason::WrongPins, "destroyed for {reason:?}");
                None
            }
            None => Some(r.active().unwrap().failures()),
        }
    }

    fn create(&mut self, scheme: Scheme, tag: u8) {
        let w = world();
        let digest = scheme.hash().digest(&[tag]);
        if let Ok(r) = w.server.create_request(
            &mut self.rng,
            &w.key_id,
            KeyPurpose::Signing,
            scheme,
            &digest,
            self.now,
        ) {
            self.requests.push(r);
        }
    }

    /// Delivers message `i` and checks the charge rules on the record before and after.
    fn deliver(&mut self, i: usize) -> Option<SealedResponse> {
        let w = world();
        let before = self.failures();
        let sent = &self.sent[i];
        let hash = sent.message.hash();
        let result = w.server.complete(&mut self.rng, &sent.message, self.now);
        let after = self.failures();
        if trace() {
            let r = result.as_ref().map(|c| (&c.outcome, c.resent));
            eprintln!(
                "deliver #{i} {:?}: {before:?} -> {after:?}: {r:?}",
                sent.origin
            );
        }
        let fault = result.is_err();
        if let Err(e) = &result {
            assert!(
                matches!(e, Error::Store(_)),
                "only injected store faults fail here: {e:?}"
            );
        }
        let Some(before) = before else {
            assert!(after.is_none(), "a destroyed key came back");
            return result.ok().map(|c| c.response);
        };
        let completed = matches!(
            &result,
            Ok(c) if matches!(c.outcome, Outcome::Completed { .. }) && !c.resent
        );
        if let Ok(c) = &result {
            assert!(
                !matches!(c.outcome, Outcome::CloneDetected),
                "a clone was detected: {:?}",
                sent.origin
            );
            if let Outcome::Completed { signature } = &c.outcome {
                verify(
                    self.device.public_key(),
                    sent.request.scheme(),
                    sent.request.digest(),
                    signature,
                )
                .expect("a completed signature verifies");
                assert_eq!(sent.origin, Origin::Honest { right: true });
            }
        }
        match after {
            None => {
                // Destroyed by this message: a wrong PIN at the threshold, charged now or
                // (its outcome lost to a store fault) before.
                let charged_before = self.charged.iter().any(|(h, _)| *h == hash);
                let count = before + u32::from(!charged_before);
                assert_eq!(count, self.destroy_at, "destroyed early");
                assert_ne!(sent.origin, Origin::Honest { right: true });
                assert!(!self.honest, "an honest run destroyed the key");
            }
            Some(after) if completed => {
                assert_eq!(after, 0, "a completion did not reset the count");
                self.charged.clear();
            }
            Some(after) if after == before => {}
            Some(after) => {
                assert_eq!(after, before + 1, "failures jumped {before} -> {after}");
                assert!(
                    !self.charged.iter().any(|(h, _)| *h == hash),
                    "one message charged twice"
                );
                let right = sent.origin == Origin::Honest { right: true };
                assert!(!right || fault, "a right PIN was charged and settled");
                self.charged.push((hash, right));
            }
        }
        result.ok().map(|c| c.response)
    }

    fn check(&self) {
        if let Some(f) = self.failures() {
            assert!(f <= self.destroy_at, "failures {f} over the threshold");
            assert_eq!(
                f as usize,
                self.charged.len(),
                "failures differ from the charged messages since the last completion"
            );
        }
    }

    fn step(&mut self, op: u8, input: &mut Input<'_>) {
        match op % 12 {
            // Create a request.
            0 => {
                let s = SCHEMES[usize::from(input.byte().unwrap_or(0)) % SCHEMES.len()];
                self.create(s, op);
            }
            // The device signs a request (right or wrong PIN), persists, sends (recorded).
            1 | 2 => {
                let Some(i) = input.pick(&self.requests) else {
                    return;
                };
                let right = op % 12 == 1;
                if !right {
                    self.honest = false;
                }
                let pin = if right { right_pin() } else { wrong_pin() };
                let request = self.requests[i].clone();
                if let Ok(message) = self.device.sign(&mut self.rng, &request, &pin) {
                    self.persist();
                    self.sent.push(Sent {
                        message,
                        request,
                        origin: Origin::Honest { right },
                    });
                }
            }
            // Deliver (or duplicate, or replay) a recorded message; keep its answer.
            3 | 4 => {
                if let Some(i) = input.pick(&self.sent)
                    && let Some(a) = self.deliver(i)
                {
                    self.answers.push(a);
                }
            }
            // The device accepts a recorded answer.
            5 => {
                if let Some(i) = input.pick(&self.answers) {
                    let a = self.answers[i].clone();
                    let before = self.device.to_bytes().to_vec();
                    match self.device.accept(&a) {
                        Ok(_) => self.persist(),
                        Err(_) => assert_eq!(
                            self.device.to_bytes().as_slice(),
                            before.as_slice(),
                            "a refused answer changed the device"
                        ),
                    }
                }
            }
            // A recorded answer with one byte corrupted: refused, nothing changes.
            6 => {
                if let Some(i) = input.pick(&self.answers) {
                    let mut b = self.answers[i].to_bytes();
                    let at = usize::from(input.byte().unwrap_or(0)) * 7 % b.len();
                    b[at] ^= input.byte().unwrap_or(1).max(1);
                    if let Ok(bad) = SealedResponse::from_bytes(&b) {
                        let before = self.device.to_bytes().to_vec();
                        assert!(
                            self.device.accept(&bad).is_err(),
                            "a corrupted answer opened"
                        );
                        assert_eq!(self.device.to_bytes().as_slice(), before.as_slice());
                    }
                }
            }
            // The device crashes and restarts from its last persisted record.
            7 => self.device = DeviceRecord::from_bytes(&self.persisted).unwrap(),
            // The device resends its pending message (it is delivered; the answer kept).
            8 => {
                if let Ok(message) = self.device.resend() {
                    let i = self
                        .sent
                        .iter()
                        .position(|s| s.message == message)
                        .expect("a resend is byte-identical to a sent message");
                    if let Some(a) = self.deliver(i) {
                        self.answers.push(a);
                    }
                }
            }
            // The attacker copies the device record as it is now.
            9 => {
                self.honest = false;
                self.attacker = Some(DeviceRecord::from_bytes(&self.device.to_bytes()).unwrap());
            }
            // The attacker, from its copy: resolves its exchange if one is pending (resend and
            // open the answer it gets), else signs a request with a guessed (wrong) PIN.
            10 => {
                self.honest = false;
                let Some(mut attacker) = self.attacker.take() else {
                    return;
                };
                if let Ok(message) = attacker.resend() {
                    if let Some(i) = self.sent.iter().position(|s| s.message == message)
                        && let Some(a) = self.deliver(i)
                    {
                        let _ = attacker.accept(&a);
                        self.answers.push(a);
                    }
                } else if let Some(i) = input.pick(&self.requests) {
                    let request = self.requests[i].clone();
                    if let Ok(message) = attacker.sign(&mut self.rng, &request, &wrong_pin()) {
                        self.sent.push(Sent {
                            message,
                            request,
                            origin: Origin::Attacker,
                        });
                        let i = self.sent.len() - 1;
                        if let Some(a) = self.deliver(i) {
                            let _ = attacker.accept(&a);
                            self.answers.push(a);
                        }
                    }
                }
                self.attacker = Some(attacker);
            }
            // A store fault (the n-th compare-and-swap from now fails), or time passes.
            _ => {
                let b = input.byte().unwrap_or(0);
                if b & 0x80 != 0 {
                    world().server.store().arm(i64::from(b & 3) + 1);
                } else {
                    // 6·b² seconds: 6 s to 27 h, so request lifetimes and both lock lengths
                    // can be crossed, never the key's 3-year lifetime within MAX_OPS steps.
                    self.now += 6 * u64::from(b) * u64::from(b);
                }
            }
        }
    }

    /// SPEC §4.5 g, §7 (see the module docs): a key at the destroy
    /// threshold holds a charged message whose outcome was lost, and a resend of that message
    /// resolves it (destroyed for a wrong PIN, completed for the right one), whenever it comes.
    fn resolve_threshold(&mut self) {
        let w = world();
        let r = w.record_now();
        let Some(a) = r.active() else {
            return;
        };
        if a.failures() < self.destroy_at {
            return;
        }
        let unresolved: Vec<[u8; 32]> = a.unresolved().iter().map(|u| *u.message_hash()).collect();
        assert!(
            !unresolved.is_empty(),
            "at the threshold without a charged message"
        );
        let mut resolved = false;
        for charged in unresolved {
            let i = self
                .sent
                .iter()
                .position(|s| s.message.hash() == charged)
                .expect("the charged message was sent here");
            w.server.store().arm(0);
            let c = w
                .server
                .complete(&mut self.rng, &self.sent[i].message, self.now)
                .unwrap();
            if matches!(c.outcome, Outcome::Destroyed | Outcome::Completed { .. }) {
                resolved = true;
                break;
            }
        }
        assert!(
            resolved,
            "a key at the destroy threshold cannot be resolved by resending its charged messages"
        );
    }

    /// SPEC §10 and §1 (i) at the end of an honest-only input.
    fn finish_honest(&mut self) {
        let w = world();
        w.server.store().arm(0);
        if let Ok(message) = self.device.resend() {
            let i = self.sent.iter().position(|s| s.message == message).unwrap();
            let a = self.deliver(i).expect("no fault is armed");
            self.device
                .accept(&a)
                .expect("the device opens the real answer");
            self.persist();
            self.check();
        }
        assert!(
            !self.device.is_dead(),
            "an honest device was told its key is dead"
        );
        let failures = self.failures().expect("an honest run destroyed the key");
        let orphaned = self.charged.iter().filter(|(_, right)| *right).count();
        assert_eq!(
            failures as usize, orphaned,
            "an honest run ends charged beyond its orphaned right-PIN charges"
        );
        if failures >= self.lock_at {
            return;
        }
        let n = self.requests.len();
        self.create(SCHEMES[0], 0xee);
        assert_eq!(
            self.requests.len(),
            n + 1,
            "an honest key refused a request"
        );
        let request = self.requests[n].clone();
        let message = self
            .device
            .sign(&mut self.rng, &request, &right_pin())
            .expect("an honest device signs after resolving its exchange");
        self.sent.push(Sent {
            message,
            request,
            origin: Origin::Honest { right: true },
        });
        let a = self.deliver(self.sent.len() - 1).unwrap();
        let outcome = self.device.accept(&a).unwrap();
        assert!(
            matches!(outcome, Outcome::Completed { .. }),
            "an honest signature did not complete: {outcome:?}"
        );
        self.check();
    }
}

fuzz_target!(|data: &[u8]| {
    let mut s = Session::new();
    let mut input = Input(data);
    for _ in 0..MAX_OPS {
        let Some(op) = input.byte() else {
            break;
        };
        s.step(op, &mut input);
        s.check();
    }
    if trace() {
        let r = world().record_now();
        let a = r.active();
        eprintln!(
            "end: destroyed {:?}, failures {:?}, unresolved {:?}, pending expires {:?}, now {}",
            r.destroyed(),
            a.map(|a| a.failures()),
            a.map(|a| a.unresolved().len()),
            a.and_then(|a| a.pending().map(|p| p.expires_at())),
            s.now
        );
    }
    if strict() {
        s.resolve_threshold();
    }
    if s.honest {
        s.finish_honest();
    }
});
