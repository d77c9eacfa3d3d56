//! The server's role (SPEC §3 step 5, §4 steps 1 and 5, §6, §7): the [`Server`](service::Server)
//! itself, its session state machine, the lockout policy, one-time passwords, key stores and
//! the transport key devices seal their messages to.

pub mod kek;
pub mod lockout;
pub mod otp;
pub mod record;
pub mod service;
pub mod session;
pub mod store;
pub mod transport;
