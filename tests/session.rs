//! The signing session against its attacker (SPEC v2 §1 (c), (d), (h), (i); §3.0, §3.5; §4;
//! §10), through the public API only.
//!
//! The attacker holds the stolen device record (without the PIN unless stated) and every
//! message ever sent, and can replay, resend, drop, reorder, race and forge. One test per
//! finding of the security review, each stating what the specification demands:
//! 1. replaying the owner's last exchange must change nothing (no reset of the count);
//! 2. a replayed registration must not create a second key (no fresh budget of guesses);
//! 3. lost answers, crashes, older replays, two outstanding requests and corrupted answers
//!    must never make the server see a clone or destroy an honest user's key;
//! 4. someone who knows the pending request but not the device record cannot burn attempts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "support/env.rs"]
mod env;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use env::{Env, Fault, NOW, PIN2, copy, pin, size};
use split_rsa::{
    ChallengeError, DeviceRegistration, Error, HashAlg, KeyPurpose, LockStep, LockoutPolicy,
    Outcome, Scheme, SealedPartialSignature, SealedResponse, ServerPolicy, ServerTransportKey,
    verify,
};

const SIGNING: KeyPurpose = KeyPurpose::Signing;
const WRONG: &str = "11111";

fn wrong_pin_outcome(o: &Outcome) -> bool {
    matches!(o, Outcome::WrongPin { .. })
}

// ---------------------------------------------------------------------------------------------
// Finding 1: a replay of the last exchange resets nothing.

/// The review's attack: the thief makes wrong guesses, replays the owner's recorded last
/// exchange (a completed signature), and repeats. SPEC §4.5 b: the replay gets the stored
/// answer and nothing is charged, evaluated, reset or rotated; §1 (h): only a Completed answer
/// resets the count. So at most 9 guesses are ever evaluated and the key is destroyed.
#[test]
fn replaying_the_last_exchange_changes_nothing() {
    let mut env = Env::new(1);
    let mut owner = env.register(SIGNING, PIN2);
    // The owner signs once; the thief records the message and the answer.
    let request = env.request(&owner, b"owner's document");
    let recorded = owner
        .sign(&mut env.rng, &request, &pin(PIN2, SIGNING))
        .unwrap();
    let done = env.server.complete(&mut env.rng, &recorded, NOW).unwrap();
    assert!(matches!(done.outcome, Outcome::Completed { .. }));
    owner.accept(&done.response).unwrap();
    let stolen = copy(&owner);
    let record_before = env.record(owner.key_id());
    let evaluations_before = env.evaluations();

    // Replaying it alone changes nothing: same stored answer, same record.
    let replay = env.server.complete(&mut env.rng, &recorded, NOW).unwrap();
    assert!(replay.resent);
    assert_eq!(replay.response, done.response);
    assert_eq!(env.record(owner.key_id()), record_before);
    assert_eq!(env.evaluations(), evaluations_before);

    // Guess, guess, replay, ... 60 guesses.
    let mut evaluated_guesses = 0;
    let mut destroyed = false;
    for round in 0..30u64 {
        for g in 0..2u64 {
            let mut thief = copy(&stolen);
            let Ok(request) = env.server.create_request(
                &mut env.rng,
                owner.key_id(),
                SIGNING,
                Scheme::Pss(HashAlg::Sha256),
                &HashAlg::Sha256.digest(&round.to_be_bytes()),
                NOW + round * 100_000 + g,
            ) else {
                continue;
            };
            let guess = format!("{:05}", 10_000 + round * 2 + g);
            let msg = thief
                .sign(&mut env.rng, &request, &pin(&guess, SIGNING))
                .unwrap();
            let before = env.evaluations();
            let out = env
                .server
                .complete(&mut env.rng, &msg, NOW + round * 100_000 + g)
                .unwrap();
            evaluated_guesses += env.evaluations() - before;
            if out.outcome == Outcome::Destroyed {
                destroyed = true;
            }
        }
        let failures = env.failures(owner.key_id());
        let replay = env
            .server
            .complete(&mut env.rng, &recorded, NOW + round * 100_000 + 50)
            .unwrap();
        assert!(
            replay.resent || replay.outcome == Outcome::Destroyed,
            "a replay is answered from storage (or refused once destroyed)"
        );
        assert_eq!(
            env.failures(owner.key_id()),
            failures,
            "the replay reset the count"
        );
    }
    assert!(destroyed, "9 wrong PINs destroy the key");
    assert_eq!(evaluated_guesses, 9, "exactly 9 guesses were evaluated");
    assert!(env.record(owner.key_id()).destroyed().is_some());
}

/// A replay of the last exchange when it was a wrong PIN: the stored WrongPin answer again,
/// no second charge, the lock unchanged.
#[test]
fn replaying_a_wrong_pin_exchange_is_not_charged_again() {
    let mut env = Env::new(2);
    let mut device = env.register(SIGNING, PIN2);
    let request = env.request(&device, b"x");
    let msg = device
        .sign(&mut env.rng, &request, &pin(WRONG, SIGNING))
        .unwrap();
    let first = env.server.complete(&mut env.rng, &msg, NOW).unwrap();
    assert!(wrong_pin_outcome(&first.outcome));
    let record = env.record(device.key_id());
    for _ in 0..20 {
        let again = env.server.complete(&mut env.rng, &msg, NOW).unwrap();
        assert!(again.resent);
        assert_eq!(again.outcome, first.outcome);
    }
    assert_eq!(env.record(device.key_id()), record);
    assert_eq!(env.evaluations(), 1);
    assert_eq!(device.accept(&first.response).unwrap(), first.outcome);
}

// ---------------------------------------------------------------------------------------------
// Finding 2: a replayed registration gives no fresh budget.

/// SPEC §3.5: an n1 that was ever registered is refused; a byte-identical resend of the
/// registration gets the stored answer (the same key, nothing new) so an honest device whose
/// answer was lost still finishes. After the key is used (or destroyed), the replay is refused.
#[test]
fn replayed_registration_is_refused() {
    let mut env = Env::new(3);
    let challenge = env.server.issue_challenge(&mut env.rng, NOW);
    let (registration, request) = DeviceRegistration::start(
        &mut env.rng,
        &challenge,
        SIGNING,
        size(),
        &env.server.transport_public_key(),
    )
    .unwrap();
    let first = env.server.register(&mut env.rng, &request, NOW).unwrap();
    assert_eq!(env.store.len(), 1);

    // The answer is lost; the device resends; the server answers from storage.
    let again = env
        .server
        .register(&mut env.rng, &request, NOW + 10)
        .unwrap();
    assert_eq!(again.key_id, first.key_id);
    assert_eq!(again.response, first.response);
    assert_eq!(env.store.len(), 1, "no second key");
    let answer = registration.open_response(&again.response).unwrap();
    let mut device = registration
        .finish(
            &mut env.rng,
            answer,
            &pin(PIN2, SIGNING),
            split_rsa::Argon2Params::insecure_fast_for_tests(),
        )
        .unwrap();

    // Once the key has signed, the registration answer is no longer kept: a replay, even
    // within the challenge's lifetime, is refused and creates nothing.
    assert!(matches!(
        env.sign(&mut device, PIN2, b"first"),
        Outcome::Completed { .. }
    ));
    assert_eq!(
        env.server
            .register(&mut env.rng, &request, NOW + 20)
            .unwrap_err(),
        Error::AlreadyRegistered
    );
    // Destroy the key with 9 wrong PINs; a replay still creates nothing (n1 is taken forever).
    for _ in 0..9 {
        env.now += 2 * 86_400; // past any lock
        let _ = env.sign(&mut device, WRONG, b"guess");
    }
    assert!(env.record(device.key_id()).destroyed().is_some());
    assert_eq!(
        env.server
            .register(&mut env.rng, &request, env.now)
            .unwrap_err(),
        Error::AlreadyRegistered
    );
    assert_eq!(env.store.len(), 1);
}

/// SPEC §3.0: a challenge must be the server's own, unexpired and unused.
#[test]
fn registration_challenges_are_authenticated_fresh_and_single_use() {
    let mut env = Env::new(4);
    let server_key = env.server.transport_public_key();
    let start = |env: &mut Env, challenge: &split_rsa::RegistrationChallenge| {
        DeviceRegistration::start(&mut env.rng, challenge, SIGNING, size(), &server_key)
            .unwrap()
            .1
    };
    // Another server's challenge.
    let mut other = Env::new(5);
    let foreign = other.server.issue_challenge(&mut other.rng, NOW);
    let request = start(&mut env, &foreign);
    assert_eq!(
        env.server
            .register(&mut env.rng, &request, NOW)
            .unwrap_err(),
        Error::InvalidChallenge(ChallengeError::Foreign)
    );
    // A tampered expiry (the tag no longer matches).
    let challenge = env.server.issue_challenge(&mut env.rng, NOW);
    let mut bytes = challenge.to_bytes();
    let at = bytes.len() - 32 - 1;
    bytes[at] ^= 1;
    let tampered = split_rsa::RegistrationChallenge::from_bytes(&bytes).unwrap();
    let request = start(&mut env, &tampered);
    assert!(matches!(
        env.server.register(&mut env.rng, &request, NOW),
        Err(Error::InvalidChallenge(_))
    ));
    // Expired: 15 minutes by default.
    let request = start(&mut env, &challenge);
    assert_eq!(
        env.server
            .register(&mut env.rng, &request, NOW + 15 * 60)
            .unwrap_err(),
        Error::InvalidChallenge(ChallengeError::Expired)
    );
    // Single use: a second registration (another n1) with a used challenge is refused.
    env.server.register(&mut env.rng, &request, NOW).unwrap();
    let second = start(&mut env, &challenge);
    assert_eq!(
        env.server.register(&mut env.rng, &second, NOW).unwrap_err(),
        Error::InvalidChallenge(ChallengeError::Used)
    );
    assert_eq!(env.store.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Finding 3: ordinary faults never destroy an honest user's key.

/// SPEC §1 (i), §10: a lost answer, a device crash (restart from the record persisted before
/// sending) and a resend end Completed, never CloneDetected; the next signature works.
#[test]
fn lost_answer_then_crash_then_resend_completes() {
    let mut env = Env::new(6);
    let mut device = env.register(SIGNING, PIN2);
    let request = env.request(&device, b"contract");
    let msg = device
        .sign(&mut env.rng, &request, &pin(PIN2, SIGNING))
        .unwrap();
    let persisted = device.to_bytes(); // persisted before sending (SPEC §10)
    let lost = env.server.complete(&mut env.rng, &msg, NOW).unwrap();
    assert!(matches!(lost.outcome, Outcome::Completed { .. }));
    drop(device); // crash: the answer never arrived

    let mut restarted = split_rsa::DeviceRecord::from_bytes(&persisted).unwrap();
    assert_eq!(restarted.pending_request(), Some(&request));
    // A new signature is refused until the pending exchange is resolved.
    let next = env.request(&restarted, b"another");
    assert_eq!(
        restarted
            .sign(&mut env.rng, &next, &pin(PIN2, SIGNING))
            .unwrap_err(),
        Error::ExchangePending
    );
    let resent = restarted.resend().unwrap();
    assert_eq!(resent, msg, "a resend is byte-identical");
    let answer = env.server.complete(&mut env.rng, &resent, NOW).unwrap();
    assert!(answer.resent);
    let Outcome::Completed { signature } = restarted.accept(&answer.response).unwrap() else {
        panic!("the resend must complete")
    };
    verify(
        restarted.public_key(),
        request.scheme(),
        request.digest(),
        &signature,
    )
    .unwrap();
    assert_eq!(env.evaluations(), 1, "the resend was not evaluated again");
    // Signing goes on; no clone was seen.
    assert!(matches!(
        env.sign(&mut restarted, PIN2, b"next"),
        Outcome::Completed { .. }
    ));
    assert_eq!(env.failures(restarted.key_id()), 0);
}

/// SPEC §4.5 g: a message charged whose outcome was never persisted (the server crashed
/// between the charge and the outcome) is evaluated again on resend without a second charge.
#[test]
fn a_crash_after_the_charge_is_not_charged_twice() {
    let mut env = Env::new(7);
    let mut device = env.register(SIGNING, PIN2);
    let request = env.request(&device, b"x");
    let msg = device
        .sign(&mut env.rng, &request, &pin(PIN2, SIGNING))
        .unwrap();
    // The charge is the next compare-and-swap; the outcome the one after: fail that one.
    env.store.arm(1, Fault::Fail);
    assert!(matches!(
        env.server.complete(&mut env.rng, &msg, NOW),
        Err(Error::Store(_))
    ));
    assert_eq!(env.failures(device.key_id()), 1, "the charge was persisted");
    let answer = env
        .server
        .complete(&mut env.rng, &device.resend().unwrap(), NOW)
        .unwrap();
    assert!(matches!(answer.outcome, Outcome::Completed { .. }));
    assert!(matches!(
        device.accept(&answer.response).unwrap(),
        Outcome::Completed { .. }
    ));
    assert_eq!(env.failures(device.key_id()), 0);

    // The same with a wrong PIN: one PIN entry costs one attempt, however often it is resent.
    let request = env.request(&device, b"y");
    let msg = device
        .sign(&mut env.rng, &request, &pin(WRONG, SIGNING))
        .unwrap();
    env.store.arm(1, Fault::LostAck);
    let _ = env.server.complete(&mut env.rng, &msg, NOW);
    for _ in 0..5 {
        let out = env.server.complete(&mut env.rng, &msg, NOW).unwrap();
        assert!(wrong_pin_outcome(&out.outcome));
    }
    assert_eq!(env.failures(device.key_id()), 1);
}

/// Older exchanges replayed after newer ones: NotPending (or the stored answer), nothing
/// charged, nothing evaluated, nothing destroyed.
#[test]
fn older_replays_get_not_pending_and_charge_nothing() {
    let mut env = Env::new(8);
    let mut device = env.register(SIGNING, PIN2);
    let mut recorded = Vec::new();
    for i in 0..4u8 {
        let request = env.request(&device, &[i]);
        let digits = if i % 2 == 0 { WRONG } else { PIN2 };
        let msg = device
            .sign(&mut env.rng, &request, &pin(digits, SIGNING))
            .unwrap();
        let out = env.server.complete(&mut env.rng, &msg, NOW).unwrap();
        device.accept(&out.response).unwrap();
        recorded.push(msg);
    }
    let record = env.record(device.key_id());
    let evaluations = env.evaluations();
    for msg in recorded.iter().take(3) {
        let out = env.server.complete(&mut env.rng, msg, NOW).unwrap();
        assert!(
            out.outcome == Outcome::NotPending || out.resent,
            "got {:?}",
            out.outcome
        );
    }
    assert_eq!(env.record(device.key_id()), record);
    assert_eq!(env.evaluations(), evaluations);
    assert!(matches!(
        env.sign(&mut device, PIN2, b"after"),
        Outcome::Completed { .. }
    ));
}

/// Two requests outstanding for one key: the server keeps one pending request (the newer);
/// the device finishes its exchange on the older one (NotPending) and signs the newer.
#[test]
fn two_requests_outstanding_do_not_destroy_the_key() {
    let mut env = Env::new(9);
    let mut device = env.register(SIGNING, PIN2);
    let first = env.request(&device, b"first");
    let second = env.request(&device, b"second");
    let msg = device
        .sign(&mut env.rng, &first, &pin(PIN2, SIGNING))
        .unwrap();
    assert_eq!(
        device
            .sign(&mut env.rng, &second, &pin(PIN2, SIGNING))
            .unwrap_err(),
        Error::ExchangePending
    );
    let out = env.server.complete(&mut env.rng, &msg, NOW).unwrap();
    assert_eq!(out.outcome, Outcome::NotPending);
    assert_eq!(device.accept(&out.response).unwrap(), Outcome::NotPending);
    let msg = device
        .sign(&mut env.rng, &second, &pin(PIN2, SIGNING))
        .unwrap();
    let out = env.server.complete(&mut env.rng, &msg, NOW).unwrap();
    assert!(matches!(
        device.accept(&out.response).unwrap(),
        Outcome::Completed { .. }
    ));
    assert_eq!(env.evaluations(), 1);
    assert_eq!(env.failures(device.key_id()), 0);
}

/// SPEC §4.6, §6: a corrupted or forged answer does not open; the device ignores it and stays
/// pending; a resend recovers the real answer. The OTP is never desynchronised.
#[test]
fn corrupted_or_forged_answer_is_ignored_and_a_resend_recovers() {
    let mut env = Env::new(10);
    let mut device = env.register(SIGNING, PIN2);
    let request = env.request(&device, b"x");
    let msg = device
        .sign(&mut env.rng, &request, &pin(PIN2, SIGNING))
        .unwrap();
    let real = env.server.complete(&mut env.rng, &msg, NOW).unwrap();
    let before = device.to_bytes();

    // Every single-byte corruption of the sealed part is ignored.
    let bytes = real.response.to_bytes();
    for i in (bytes.len() - 60)..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 0x40;
        if let Ok(bad) = SealedResponse::from_bytes(&bad) {
            assert!(device.accept(&bad).is_err());
        }
    }
    // A forged answer from another "server" (it cannot know the response key).
    let mut other = Env::new(11);
    let mut other_device = other.register(SIGNING, PIN2);
    let other_request = other.request(&other_device, b"x");
    let other_msg = other_device
        .sign(&mut other.rng, &other_request, &pin(PIN2, SIGNING))
        .unwrap();
    let other_answer = other
        .server
        .complete(&mut other.rng, &other_msg, NOW)
        .unwrap();
    let forged = SealedResponse::from_parts(
        real.response.kind(),
        *real.response.key_id(),
        *real.response.request_id(),
        other_answer.response.to_bytes()[6 + 33..].to_vec(),
    );
    assert_eq!(device.accept(&forged).unwrap_err(), Error::Unseal);
    assert_eq!(device.to_bytes(), before, "nothing changed");

    // The resend gets the real answer.
    let again = env
        .server
        .complete(&mut env.rng, &device.resend().unwrap(), NOW)
        .unwrap();
    assert!(matches!(
        device.accept(&again.response).unwrap(),
        Outcome::Completed { .. }
    ));
    assert!(matches!(
        env.sign(&mut device, PIN2, b"next"),
        Outcome::Completed { .. }
    ));
}

// ---------------------------------------------------------------------------------------------
// Finding 4: knowing the pending request is not enough to burn attempts.

/// SPEC §4.5 f before g: a message whose OTP is neither the current nor the previous one is
/// refused before anything is charged. An attacker who knows the pending request (it travels
/// to the device in the clear) but not the device record has no OTP: whatever it seals to the
/// server (whose key is public) is refused as a stale record, and nothing is evaluated.
#[test]
fn forged_messages_cannot_burn_attempts() {
    let mut env = Env::new(12);
    let mut device = env.register(SIGNING, PIN2);
    let request = env.request(&device, b"pending");
    for i in 0..20u8 {
        let forged = forge(&mut env, &request, [i; 32]);
        let out = env.server.complete(&mut env.rng, &forged, NOW).unwrap();
        assert_eq!(out.outcome, Outcome::StaleRecord);
    }
    assert_eq!(env.failures(device.key_id()), 0);
    assert_eq!(env.evaluations(), 0);
    let msg = device
        .sign(&mut env.rng, &request, &pin(PIN2, SIGNING))
        .unwrap();
    let out = env.server.complete(&mut env.rng, &msg, NOW).unwrap();
    assert!(matches!(
        device.accept(&out.response).unwrap(),
        Outcome::Completed { .. }
    ));
}

/// A well-formed message for `request` made without the device record: a guessed OTP and a
/// random y, sealed to the server's public transport key with the right associated data.
fn forge(
    env: &mut Env,
    request: &split_rsa::SigningRequest,
    otp: [u8; 32],
) -> SealedPartialSignature {
    use rand_core::Rng;
    let mut y = vec![0u8; size().bytes()];
    env.rng.fill_bytes(&mut y);
    y[0] &= 0x3f;
    let plaintext = split_rsa::__fuzz::encode_partial_signature(&otp, &y);
    let aad = split_rsa::__fuzz::partial_aad(request);
    let sealed = split_rsa::seal_to_server(
        &mut env.rng,
        &env.server.transport_public_key(),
        &aad,
        &plaintext,
    )
    .unwrap();
    let mut bytes = b"SRSA\x02\x04".to_vec();
    bytes.extend_from_slice(request.key_id().as_bytes());
    bytes.extend_from_slice(request.request_id().as_bytes());
    bytes.extend_from_slice(&request.hash());
    bytes.extend_from_slice(sealed.enc());
    bytes.extend_from_slice(&(sealed.ciphertext().len() as u32).to_be_bytes());
    bytes.extend_from_slice(sealed.ciphertext());
    SealedPartialSignature::from_bytes(&bytes).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Concurrency.

/// SPEC §1 (h) under concurrency: 16 threads mixing resends, replays, forged messages and
/// wrong PINs on one key never get more evaluations of distinct guesses than the policy
/// allows, and the count stays exact.
#[test]
fn sixteen_threads_never_exceed_the_policy() {
    let lockout = LockoutPolicy::new(&[], 9).unwrap();
    let policy = ServerPolicy::new(lockout, 3 * 365 * 86_400, 64).unwrap();
    let mut env = Env::with_policy(13, policy);
    let owner = env.register(SIGNING, PIN2);
    let request = env.request(&owner, b"race");
    // The thieves: 32 wrong-PIN messages for the pending request from copies of the record.
    let mut messages = Vec::new();
    for i in 0..32u32 {
        let mut thief = copy(&owner);
        let guess = format!("{:05}", 30_000 + i);
        messages.push(
            thief
                .sign(&mut env.rng, &request, &pin(&guess, SIGNING))
                .unwrap(),
        );
    }
    let server = Arc::new(env.server);
    // Per message index: the outcomes its sends got.
    let outcomes = Arc::new(std::sync::Mutex::new(Vec::<(usize, Outcome)>::new()));
    let handles: Vec<_> = (0..16)
        .map(|t| {
            let server = server.clone();
            let messages = messages.clone();
            let outcomes = outcomes.clone();
            std::thread::spawn(move || {
                let mut rng = env::rng(100 + t as u64);
                for round in 0..8 {
                    let i = (t * 3 + round * 5) % messages.len();
                    // Send, then resend the same bytes (a duplicate).
                    for _ in 0..2 {
                        if let Ok(out) = server.complete(&mut rng, &messages[i], NOW) {
                            outcomes.lock().unwrap().push((i, out.outcome));
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    // Distinct guesses evaluated: the messages answered WrongPin (their evaluation settled
    // wrong), plus the one whose wrong PIN destroyed the key. A duplicate that arrives while
    // the first evaluation of its message is still running is evaluated again without a
    // second charge (SPEC §4.5 g), so share openings may exceed the distinct guesses.
    let outcomes = outcomes.lock().unwrap();
    let wrong: BTreeSet<usize> = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::WrongPin { .. }))
        .map(|(i, _)| *i)
        .collect();
    let (record, _) = server.load(owner.key_id()).unwrap();
    assert_eq!(
        record.destroyed().map(|(r, _)| r),
        Some(split_rsa::DestroyReason::WrongPins)
    );
    assert_eq!(
        wrong.len() + 1,
        9,
        "{} guesses settled wrong before the destroying one; the policy allows 9 in all",
        wrong.len()
    );
    let openings = env.evaluations.load(Ordering::SeqCst);
    assert!(openings >= 9, "{openings} share openings for 9 guesses");
    assert!(
        outcomes.iter().all(|(_, o)| matches!(
            o,
            Outcome::WrongPin { .. }
                | Outcome::Destroyed
                | Outcome::Locked { until: None }
                | Outcome::NotPending
        )),
        "unexpected outcomes"
    );
}

// ---------------------------------------------------------------------------------------------
// Clones (SPEC §1 (c)).

/// A copy of the record taken before the owner's last signature, used with the right PIN,
/// presents the previous OTP: the key is destroyed. A copy two signatures old presents an
/// OTP that is neither: StaleRecord, nothing changes.
#[test]
fn a_clone_with_the_previous_otp_destroys_and_an_older_copy_is_stale() {
    let mut env = Env::new(14);
    let mut owner = env.register(SIGNING, PIN2);
    let two_old = copy(&owner);
    assert!(matches!(
        env.sign(&mut owner, PIN2, b"a"),
        Outcome::Completed { .. }
    ));
    let one_old = copy(&owner);
    assert!(matches!(
        env.sign(&mut owner, PIN2, b"b"),
        Outcome::Completed { .. }
    ));

    let mut stale = two_old;
    let out = env.sign(&mut stale, PIN2, b"stale");
    assert_eq!(out, Outcome::StaleRecord);
    assert!(stale.is_dead());
    assert_eq!(env.failures(owner.key_id()), 0);
    assert_eq!(env.evaluations(), 2);

    let mut clone = one_old;
    assert_eq!(env.sign(&mut clone, PIN2, b"clone"), Outcome::CloneDetected);
    assert!(env.record(owner.key_id()).destroyed().is_some());
    let request = env.server.create_request(
        &mut env.rng,
        owner.key_id(),
        SIGNING,
        Scheme::Pss(HashAlg::Sha256),
        &HashAlg::Sha256.digest(b"c"),
        NOW,
    );
    assert_eq!(request.unwrap_err(), Error::KeyDestroyed);
}

// ---------------------------------------------------------------------------------------------
// Hardening items that live in the session (security review items 4, 7, 8, 9).

/// Review item 4: the server keeps the key's purpose; a request for another purpose is
/// refused, and a device refuses a request for another purpose.
#[test]
fn the_server_keeps_the_purpose_and_refuses_a_mismatch() {
    let mut env = Env::new(15);
    let device = env.register(KeyPurpose::Authentication, env::PIN1);
    assert_eq!(
        env.record(device.key_id()).purpose(),
        KeyPurpose::Authentication
    );
    let refused = env.server.create_request(
        &mut env.rng,
        device.key_id(),
        KeyPurpose::Signing,
        Scheme::Pss(HashAlg::Sha256),
        &HashAlg::Sha256.digest(b"x"),
        NOW,
    );
    assert!(matches!(refused, Err(Error::InvalidRequest(_))));
    assert!(
        env.record(device.key_id())
            .active()
            .unwrap()
            .pending()
            .is_none()
    );
}

/// Review item 7: a production-size device key on a test-size server (or the reverse) is
/// refused before anything is generated or stored.
#[test]
fn registration_with_mismatched_sizes_leaves_no_record() {
    let mut env = Env::new(16);
    let challenge = env.server.issue_challenge(&mut env.rng, NOW);
    let (_, request) = DeviceRegistration::start(
        &mut env.rng,
        &challenge,
        SIGNING,
        split_rsa::KeySize::BITS_2048,
        &env.server.transport_public_key(),
    )
    .unwrap();
    assert!(matches!(
        env.server.register(&mut env.rng, &request, NOW),
        Err(Error::InvalidKey(_))
    ));
    assert_eq!(env.store.len(), 0);
}

/// Review item 8: everything that reads a key honours expiry, the public key too.
#[test]
fn public_key_honours_expiry() {
    let mut env = Env::new(17);
    let device = env.register(SIGNING, PIN2);
    let expires = env.record(device.key_id()).expires_at();
    assert_eq!(
        &env.server.public_key(device.key_id(), NOW).unwrap(),
        device.public_key()
    );
    assert_eq!(
        env.server.public_key(device.key_id(), expires).unwrap_err(),
        Error::KeyExpired
    );
    assert!(env.server.expire(device.key_id(), expires).unwrap());
    assert_eq!(
        env.server.public_key(device.key_id(), expires).unwrap_err(),
        Error::KeyExpired,
        "an expired-then-destroyed key still says expired"
    );
}

/// Review item 9: a message for a locked key, a replay, a stale record or a message for no
/// pending request costs no cryptography: the share is not even opened.
#[test]
fn refused_messages_do_not_open_the_share() {
    let policy = ServerPolicy::new(
        LockoutPolicy::new(
            &[LockStep {
                at_failures: 1,
                duration_secs: 3600,
            }],
            9,
        )
        .unwrap(),
        3 * 365 * 86_400,
        8,
    )
    .unwrap();
    let mut env = Env::with_policy(18, policy);
    let mut device = env.register(SIGNING, PIN2);
    let request = env.request(&device, b"x");
    let msg = device
        .sign(&mut env.rng, &request, &pin(WRONG, SIGNING))
        .unwrap();
    env.server.complete(&mut env.rng, &msg, NOW).unwrap();
    assert_eq!(env.evaluations(), 1);
    // Locked now for an hour: new messages are refused without opening the share.
    let mut thief = copy(&device);
    let _ = thief.accept(
        &env.server
            .complete(&mut env.rng, &msg, NOW)
            .unwrap()
            .response,
    );
    let msg2 = thief
        .sign(&mut env.rng, &request, &pin("22222", SIGNING))
        .unwrap();
    let out = env.server.complete(&mut env.rng, &msg2, NOW + 10).unwrap();
    assert!(matches!(out.outcome, Outcome::Locked { until: Some(_) }));
    assert_eq!(env.evaluations(), 1);
}

/// SPEC §5: a PIN change is installed only by a Completed answer.
#[test]
fn a_pin_change_is_installed_only_when_the_server_confirms_the_pin() {
    let mut env = Env::new(19);
    let mut device = env.register(SIGNING, PIN2);
    let params = split_rsa::Argon2Params::insecure_fast_for_tests();
    // With a wrong current PIN: the new seal is discarded.
    let request = env.request(&device, b"x");
    let msg = device
        .sign_and_change_pin(
            &mut env.rng,
            &request,
            &pin(WRONG, SIGNING),
            &pin("24680", SIGNING),
            params,
        )
        .unwrap();
    let out = env.server.complete(&mut env.rng, &msg, NOW).unwrap();
    assert!(wrong_pin_outcome(&device.accept(&out.response).unwrap()));
    assert!(matches!(
        env.sign(&mut device, PIN2, b"old pin"),
        Outcome::Completed { .. }
    ));
    // With the right one: installed.
    let request = env.request(&device, b"y");
    let msg = device
        .sign_and_change_pin(
            &mut env.rng,
            &request,
            &pin(PIN2, SIGNING),
            &pin("24680", SIGNING),
            params,
        )
        .unwrap();
    let out = env.server.complete(&mut env.rng, &msg, NOW).unwrap();
    assert!(matches!(
        device.accept(&out.response).unwrap(),
        Outcome::Completed { .. }
    ));
    assert!(matches!(
        env.sign(&mut device, "24680", b"new pin"),
        Outcome::Completed { .. }
    ));
    assert!(wrong_pin_outcome(&env.sign(
        &mut device,
        PIN2,
        b"old pin again"
    )));
}

#[test]
fn the_transport_key_is_not_the_answer_key() {
    // A sealed answer cannot be opened by a device that did not send the message, even one
    // with the same server key.
    let mut env = Env::new(20);
    let mut a = env.register(SIGNING, PIN2);
    let mut b = copy(&a);
    let request = env.request(&a, b"x");
    let msg_a = a.sign(&mut env.rng, &request, &pin(PIN2, SIGNING)).unwrap();
    let _msg_b = b.sign(&mut env.rng, &request, &pin(PIN2, SIGNING)).unwrap();
    let out = env.server.complete(&mut env.rng, &msg_a, NOW).unwrap();
    assert_eq!(b.accept(&out.response).unwrap_err(), Error::Unseal);
    let _ = ServerTransportKey::generate(&mut env.rng);
}

// ---------------------------------------------------------------------------------------------
// Two orders of events the model checker found (tests/model.rs, docs/model-checking.md).

/// A refusal while locked is not final: the same message may be admitted once the lock ends.
/// The device receives the stale Locked answer after a duplicate of its message completed; it
/// must stay pending, resend, and get the stored Completed answer, or it would keep the old OTP
/// and its next signature would look like a clone (SPEC §1 (i), §4.6).
#[test]
fn a_stale_locked_answer_does_not_end_the_exchange() {
    let lockout = LockoutPolicy::new(
        &[LockStep {
            at_failures: 2,
            duration_secs: 60,
        }],
        9,
    )
    .unwrap();
    let mut env = Env::with_policy(21, ServerPolicy::new(lockout, 86_400 * 365, 8).unwrap());
    let mut device = env.register(SIGNING, PIN2);
    let request = env.request(&device, b"x");
    for digits in [WRONG, "22222"] {
        let msg = device
            .sign(&mut env.rng, &request, &pin(digits, SIGNING))
            .unwrap();
        let out = env.server.complete(&mut env.rng, &msg, NOW).unwrap();
        assert!(wrong_pin_outcome(&device.accept(&out.response).unwrap()));
    }
    // Locked for 60 s; the request stays pending for 5 minutes.
    let msg = device
        .sign(&mut env.rng, &request, &pin(PIN2, SIGNING))
        .unwrap();
    let stale = env.server.complete(&mut env.rng, &msg, NOW + 1).unwrap();
    assert_eq!(
        stale.outcome,
        Outcome::Locked {
            until: Some(NOW + 60)
        }
    );
    // The network delivers a duplicate after the lock: it completes.
    let late = env.server.complete(&mut env.rng, &msg, NOW + 61).unwrap();
    assert!(matches!(late.outcome, Outcome::Completed { .. }));
    // The device gets the stale answer first: it stays pending.
    assert_eq!(
        device.accept(&stale.response).unwrap(),
        Outcome::Locked {
            until: Some(NOW + 60)
        }
    );
    assert_eq!(device.pending_request(), Some(&request));
    let again = env
        .server
        .complete(&mut env.rng, &device.resend().unwrap(), NOW + 62)
        .unwrap();
    assert!(again.resent);
    assert!(matches!(
        device.accept(&again.response).unwrap(),
        Outcome::Completed { .. }
    ));
    env.now = NOW + 62;
    assert!(matches!(
        env.sign(&mut device, PIN2, b"next"),
        Outcome::Completed { .. }
    ));
}

/// A charged message whose outcome is not persisted yet (its worker is slow or crashed) stays
/// evaluable by a resend, whatever was charged or requested after it: a thief's charge in
/// between and a new request from the relying party must not turn the honest resend into a
/// final NotPending while the first evaluation may still complete (SPEC §4.5 g).
#[test]
fn an_unresolved_charge_survives_later_charges_and_requests() {
    let mut env = Env::new(22);
    let mut device = env.register(SIGNING, PIN2);
    let stolen = copy(&device);
    let request = env.request(&device, b"x");
    let msg = device
        .sign(&mut env.rng, &request, &pin(PIN2, SIGNING))
        .unwrap();
    // The first worker persists the charge, then dies before the outcome.
    env.store.arm(1, Fault::Fail);
    assert!(env.server.complete(&mut env.rng, &msg, NOW).is_err());
    // A thief with a copy of the record charges a wrong PIN for the same request.
    let mut thief = stolen;
    let t = thief
        .sign(&mut env.rng, &request, &pin(WRONG, SIGNING))
        .unwrap();
    let out = env.server.complete(&mut env.rng, &t, NOW).unwrap();
    assert!(wrong_pin_outcome(&out.outcome));
    // The relying party replaces the pending request.
    let _newer = env.request(&device, b"y");
    // The honest resend is evaluated without a second charge and completes.
    let out = env
        .server
        .complete(&mut env.rng, &device.resend().unwrap(), NOW)
        .unwrap();
    assert!(
        matches!(out.outcome, Outcome::Completed { .. }),
        "{:?}",
        out.outcome
    );
    assert!(matches!(
        device.accept(&out.response).unwrap(),
        Outcome::Completed { .. }
    ));
    assert_eq!(env.failures(device.key_id()), 0);
    assert!(matches!(
        env.sign(&mut device, PIN2, b"next"),
        Outcome::Completed { .. }
    ));
}

/// At the destroy threshold, a wrong PIN settling while another message's charge is still
/// unresolved (the right PIN, in flight at another worker) does not destroy the key: that
/// message may still complete and reset the count (SPEC §4.5 h). The key is destroyed when the
/// last charge settles wrong.
#[test]
fn a_wrong_pin_at_the_threshold_waits_for_the_other_charges() {
    let mut env = Env::new(23);
    let mut device = env.register(SIGNING, PIN2);
    for i in 0..7u8 {
        env.now += 2 * 86_400; // past any lock
        assert!(wrong_pin_outcome(&env.sign(&mut device, WRONG, &[i])));
    }
    env.now += 2 * 86_400;
    let now = env.now;
    let request = env.request(&device, b"race");
    let mut thief = copy(&device);
    // The thief's wrong PIN is charged (8th); its worker is slow: its outcome is not stored.
    let t = thief
        .sign(&mut env.rng, &request, &pin("22222", SIGNING))
        .unwrap();
    env.store.arm(1, Fault::Fail);
    assert!(env.server.complete(&mut env.rng, &t, now).is_err());
    // The owner's right PIN is charged (9th); its worker is slow too.
    let m = device
        .sign(&mut env.rng, &request, &pin(PIN2, SIGNING))
        .unwrap();
    env.store.arm(1, Fault::Fail);
    assert!(env.server.complete(&mut env.rng, &m, now).is_err());
    assert_eq!(env.failures(device.key_id()), 9);
    // The thief's message settles wrong first: the key is not destroyed yet.
    let out = env.server.complete(&mut env.rng, &t, now).unwrap();
    assert_eq!(
        out.outcome,
        Outcome::WrongPin {
            attempts_left: 0,
            locked_until: None
        }
    );
    assert!(env.record(device.key_id()).destroyed().is_none());
    // The owner's resend completes and resets the count.
    let out = env
        .server
        .complete(&mut env.rng, &device.resend().unwrap(), now)
        .unwrap();
    assert!(matches!(
        device.accept(&out.response).unwrap(),
        Outcome::Completed { .. }
    ));
    assert_eq!(env.failures(device.key_id()), 0);
}
