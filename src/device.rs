//! The device's role (SPEC §3 steps 1-4 and 6, §4 steps 2-4 and 6, §5, §8, §10): its
//! registration and record, the PIN seal of its share, the verification code it shows.
//!
//! No type in this folder can hold a server share (SPEC §1 (b), (f)).

pub mod pin;
pub mod record;
pub mod registration;
pub mod seal;
pub mod session;
pub mod verification_code;
