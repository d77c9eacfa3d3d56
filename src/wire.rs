//! The wire format (SPEC §9): the canonical encoding's reader and writer, the identifiers, and
//! the messages the device and the server exchange.

pub mod encoding;
pub(crate) mod hex;
pub mod ids;
pub mod messages;
