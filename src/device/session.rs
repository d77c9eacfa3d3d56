//! The device's session rules (SPEC §4.3, §4.6, §10), pure: what the device may start and
//! what an answer does to its state. [`DeviceRecord`](crate::DeviceRecord) and the model
//! checker (`tests/model.rs`) both call these functions.

use crate::error::{Error, Result};
use crate::wire::messages::Outcome;

/// Whether a device may start a new signature (SPEC §4.3): not once the server said the key is
/// dead, and not while an exchange is unresolved (a device restarted from its record first
/// resolves its pending exchange, SPEC §10; starting another would present the same OTP twice).
///
/// # Errors
/// [`Error::KeyDead`], [`Error::ExchangePending`].
pub fn may_sign(dead: bool, pending: bool) -> Result<()> {
    if dead {
        return Err(Error::KeyDead);
    }
    if pending {
        return Err(Error::ExchangePending);
    }
    Ok(())
}

/// What an opened answer does to the device's state (SPEC §4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerEffect {
    /// Completed: after the signature verified, store the next OTP, install a pending PIN
    /// change, leave the pending state.
    Complete,
    /// WrongPin, NotPending: leave the pending state; the OTP and the PIN seal stay. These
    /// answers are final for the message: it can never be admitted later.
    End,
    /// Locked: stay pending and resend after the lock. The answer is not final: the same
    /// message may be admitted once the lock ends (or an earlier charge resolves), and a device
    /// that left the pending state on a refusal that a later duplicate of its message overturns
    /// would miss the rotation (found by the model checker, `tests/model.rs`).
    Wait,
    /// Destroyed, Expired, CloneDetected, StaleRecord: leave the pending state; the key is dead.
    Dead,
}

/// The effect of `outcome` (SPEC §4.6).
pub fn answer_effect(outcome: &Outcome) -> AnswerEffect {
    match outcome {
        Outcome::Completed { .. } => AnswerEffect::Complete,
        Outcome::Locked { .. } => AnswerEffect::Wait,
        o if o.is_fatal() => AnswerEffect::Dead,
        _ => AnswerEffect::End,
    }
}
