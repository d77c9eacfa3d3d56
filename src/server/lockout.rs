//! Wrong-PIN lockout (SPEC §7): the policy and the per-key attempt state.
//!
//! Failures count *consecutive* wrong PINs of one key; a success resets the count. With the
//! default policy the key is locked for 3 hours when the count reaches 3, for 24 hours when it
//! reaches 6, and destroyed when it reaches 9. While locked, requests are refused without
//! evaluating anything and without counting an attempt.
//!
//! # Charge before compute
//!
//! [`AttemptState::charge`] applies the *complete* consequence of a failed attempt (the count,
//! a lock that the count triggers, the destroy threshold) **before** the share check runs; the
//! caller persists that state, then evaluates, and only a proven success
//! ([`AttemptState::success`]) undoes it. A crash, a timeout or a concurrent request between
//! the charge and the outcome therefore leaves the key exactly as if the attempt had failed:
//! no sequence of events buys a guess the policy does not allow (SPEC §7).
//!
//! A side effect worth knowing: while a charge that reached a lock threshold is in flight, a
//! concurrent request on the same key sees the key locked, even if the in-flight attempt
//! turns out to be right (the success then lifts the lock).
//!
//! # Time
//!
//! Time is passed in by the caller as seconds since the Unix epoch; nothing here reads a clock
//! (SPEC §7). A lock "until `t`" covers the seconds `now < t`: the key is usable again at
//! `now >= t`.

use crate::error::{Error, Result};
use crate::error::{PolicyError, RequestError};

/// One hour in seconds.
const HOUR: u64 = 3600;

/// One lock step of a [`LockoutPolicy`]: when the consecutive-failure count reaches
/// `at_failures`, the key is locked for `duration_secs` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockStep {
    /// The failure count that triggers this lock (exactly this count; counts in between do
    /// not lock).
    pub at_failures: u32,
    /// How long the key stays locked, in seconds.
    pub duration_secs: u64,
}

/// The wrong-PIN lockout policy of SPEC §7.
///
/// Invariants (checked by [`LockoutPolicy::new`]): `1 <= destroy_at <= MAX_DESTROY_AT`; lock
/// steps have strictly increasing thresholds, all `>= 1` and `< destroy_at`; every lock
/// duration is `> 0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockoutPolicy {
    steps: Vec<LockStep>,
    destroy_at: u32,
}

impl Default for LockoutPolicy {
    /// SPEC §7 defaults: lock 3 h at 3 failures, 24 h at 6, destroy at 9.
    fn default() -> Self {
        Self {
            steps: vec![
                LockStep {
                    at_failures: 3,
                    duration_secs: 3 * HOUR,
                },
                LockStep {
                    at_failures: 6,
                    duration_secs: 24 * HOUR,
                },
            ],
            destroy_at: 9,
        }
    }
}

impl LockoutPolicy {
    /// The largest destroy threshold a policy may have: 10 consecutive wrong PINs.
    ///
    /// The destroy threshold is the whole of property (d) (SPEC §1): a thief with the device
    /// gets `destroy_at` guesses per key, in the best order, and nothing else limits them
    /// (locks only spread the guesses over time; a success resets the count). PIN1 may have
    /// only 4 digits, and human-chosen PINs are far from uniform: in the DataGenetics analysis
    /// of 3.4 million 4-digit PINs (2012), the 20 most common PINs are about 27% of all, so
    /// each guess at the head of the list is worth much more than 1 in 10 000 even after the
    /// refused common PINs ([`crate::Pin::new`]). SPEC §7's default is 9; comparable schemes
    /// allow fewer (EMV cards block after 3, FIDO2/CTAP2 authenticators after 8 consecutive
    /// wrong PINs). 10 leaves a deployment room around the default but refuses policies that
    /// switch the protection off in practice (100 guesses, "never destroy" as `u32::MAX`).
    pub const MAX_DESTROY_AT: u32 = 10;

    /// Builds a policy from lock steps and the failure count at which the key is destroyed.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] if `destroy_at` is 0 or above [`Self::MAX_DESTROY_AT`] (a
    /// policy that never destroys, or allows more guesses than the PIN space affords), a
    /// step's threshold is 0, not strictly greater than the previous one or not below
    /// `destroy_at`, or a duration is 0.
    pub fn new(steps: &[LockStep], destroy_at: u32) -> Result<Self> {
        if destroy_at == 0 {
            return Err(Error::InvalidRequest(RequestError::Policy(
                PolicyError::DestroyThreshold,
            )));
        }
        if destroy_at > Self::MAX_DESTROY_AT {
            return Err(Error::InvalidRequest(RequestError::Policy(
                PolicyError::DestroyThreshold,
            )));
        }
        let mut previous = 0u32;
        for step in steps {
            if step.at_failures <= previous {
                return Err(Error::InvalidRequest(RequestError::Policy(
                    PolicyError::LockThresholds,
                )));
            }
            if step.at_failures >= destroy_at {
                return Err(Error::InvalidRequest(RequestError::Policy(
                    PolicyError::LockThresholds,
                )));
            }
            if step.duration_secs == 0 {
                return Err(Error::InvalidRequest(RequestError::Policy(
                    PolicyError::LockDuration,
                )));
            }
            previous = step.at_failures;
        }
        Ok(Self {
            steps: steps.to_vec(),
            destroy_at,
        })
    }

    /// The lock steps, in increasing order of threshold.
    pub fn steps(&self) -> &[LockStep] {
        &self.steps
    }

    /// The consecutive-failure count at which the key is destroyed.
    pub fn destroy_at(&self) -> u32 {
        self.destroy_at
    }

    /// The lock duration triggered when the count becomes exactly `failures`, if any.
    pub(crate) fn lock_for(&self, failures: u32) -> Option<u64> {
        self.steps
            .iter()
            .find(|s| s.at_failures == failures)
            .map(|s| s.duration_secs)
    }
}
