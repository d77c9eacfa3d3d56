//! Lower-case hex for `Debug` and `Display` of public bytes (ids, digests, moduli).

use core::fmt;

/// Formats public bytes as lower-case hex.
pub(crate) struct Hex<'a>(pub &'a [u8]);

impl fmt::Debug for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}
