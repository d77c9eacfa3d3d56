//! The wire format (SPEC §9): the canonical encoding's reader and writer, and the messages the
//! device and the server exchange.

pub mod encoding;
pub mod messages;
