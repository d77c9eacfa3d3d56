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
            return Err(Error::InvalidRequest(
                "lockout policy: destroy threshold must be >= 1",
            ));
        }
        if destroy_at > Self::MAX_DESTROY_AT {
            return Err(Error::InvalidRequest(
                "lockout policy: destroy threshold above LockoutPolicy::MAX_DESTROY_AT",
            ));
        }
        let mut previous = 0u32;
        for step in steps {
            if step.at_failures <= previous {
                return Err(Error::InvalidRequest(
                    "lockout policy: lock thresholds must be >= 1 and strictly increasing",
                ));
            }
            if step.at_failures >= destroy_at {
                return Err(Error::InvalidRequest(
                    "lockout policy: lock thresholds must be below the destroy threshold",
                ));
            }
            if step.duration_secs == 0 {
                return Err(Error::InvalidRequest(
                    "lockout policy: lock durations must be > 0",
                ));
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
    fn lock_for(&self, failures: u32) -> Option<u64> {
        self.steps
            .iter()
            .find(|s| s.at_failures == failures)
            .map(|s| s.duration_secs)
    }
}

/// What a failed attempt did to the key (computed when the attempt is charged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureOutcome {
    /// The failure was counted; the key survives.
    Counted {
        /// Wrong PINs still allowed before the key is destroyed (`>= 1`).
        attempts_left: u32,
        /// If this failure locked the key: until when (seconds since the Unix epoch).
        locked_until: Option<u64>,
    },
    /// This failure reached the destroy threshold: the key must be destroyed.
    Destroyed,
}

impl FailureOutcome {
    /// The answer for a wrong PIN with this outcome: [`Error::WrongPin`] or
    /// [`Error::KeyDestroyed`] (SPEC §4.5).
    pub fn to_error(self) -> Error {
        match self {
            FailureOutcome::Counted {
                attempts_left,
                locked_until,
            } => Error::WrongPin {
                attempts_left,
                locked_until,
            },
            FailureOutcome::Destroyed => Error::KeyDestroyed,
        }
    }
}

/// The per-key attempt state of SPEC §7: consecutive failures and the end of the current lock.
///
/// Public data (it is told to the user in every answer), so plain fields and `Copy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttemptState {
    failures: u32,
    locked_until: Option<u64>,
}

impl AttemptState {
    /// A fresh state: no failures, not locked.
    pub const fn new() -> Self {
        Self {
            failures: 0,
            locked_until: None,
        }
    }

    /// Rebuilds a state from stored parts (for a persistent key store).
    pub const fn from_parts(failures: u32, locked_until: Option<u64>) -> Self {
        Self {
            failures,
            locked_until,
        }
    }

    /// Consecutive failures counted so far (including a charge whose outcome is pending).
    pub const fn failures(&self) -> u32 {
        self.failures
    }

    /// The end of the most recent lock, if one was set since the last success. The key is
    /// locked only while `now < locked_until`.
    pub const fn locked_until(&self) -> Option<u64> {
        self.locked_until
    }

    /// Whether the count has reached the destroy threshold (the key must be destroyed; this
    /// is how a crash after the 9th charge is finished on the next access).
    pub fn is_exhausted(&self, policy: &LockoutPolicy) -> bool {
        self.failures >= policy.destroy_at
    }

    /// Wrong PINs still allowed before the key is destroyed.
    pub fn attempts_left(&self, policy: &LockoutPolicy) -> u32 {
        policy.destroy_at.saturating_sub(self.failures)
    }

    /// Refuses a request on a locked or exhausted key without counting an attempt (SPEC §7).
    ///
    /// Locked means `now < locked_until`; at `now == locked_until` the key is usable again.
    ///
    /// # Errors
    /// [`Error::KeyDestroyed`] if the count reached the destroy threshold;
    /// [`Error::KeyLocked`] while locked.
    pub fn check(&self, policy: &LockoutPolicy, now: u64) -> Result<()> {
        if self.is_exhausted(policy) {
            return Err(Error::KeyDestroyed);
        }
        match self.locked_until {
            Some(until) if now < until => Err(Error::KeyLocked { until }),
            _ => Ok(()),
        }
    }

    /// Charges one failed attempt *before* the share check (SPEC §7 "charge before compute"):
    /// counts it and sets the lock it triggers, so the state is exactly that of a failed
    /// attempt. The caller persists the result before evaluating.
    ///
    /// Call only after [`AttemptState::check`] succeeded.
    pub fn charge(&mut self, policy: &LockoutPolicy, now: u64) -> FailureOutcome {
        self.failures = self.failures.saturating_add(1);
        if self.is_exhausted(policy) {
            return FailureOutcome::Destroyed;
        }
        let locked_until = policy
            .lock_for(self.failures)
            .map(|d| now.saturating_add(d));
        if locked_until.is_some() {
            self.locked_until = locked_until;
        }
        FailureOutcome::Counted {
            attempts_left: self.attempts_left(policy),
            locked_until,
        }
    }

    /// A proven success (right PIN): clears the charge, resets the count and lifts any lock.
    pub fn success(&mut self) {
        *self = Self::new();
    }
}
