//! Writing one netlink message (header, family header, attributes) into a caller's buffer.

use zerocopy::{Immutable, IntoBytes};

use super::attr::{RtAttrHdr, RTA_HDRLEN};
use super::consts::NLMSG_HDRLEN;
use super::nlmsg::{align, NlMsgHdr};
use super::BuildError;

/// Appends the parts of one message to the start of a buffer, checking every length, then
/// patches `nlmsg_len`. Padding bytes are zeroed. Never panics: a short buffer is
/// [`BuildError::BufferTooSmall`].
pub(crate) struct MessageWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> MessageWriter<'b> {
    /// Starts a message of type `kind` with `flags`, `seq` and port 0.
    pub(crate) fn new(
        buf: &'b mut [u8],
        kind: u16,
        flags: u16,
        seq: u32,
    ) -> Result<Self, BuildError> {
        let mut w = Self { buf, len: 0 };
        w.put(NlMsgHdr::new(0, kind, flags, seq, 0).as_bytes())?;
        Ok(w)
    }

    /// Appends `bytes` then zero padding to the next 4-byte boundary.
    fn put(&mut self, bytes: &[u8]) -> Result<(), BuildError> {
        let end = self
            .len
            .checked_add(bytes.len())
            .ok_or(BuildError::BufferTooSmall)?;
        let padded = align(end);
        let dst = self
            .buf
            .get_mut(self.len..padded)
            .ok_or(BuildError::BufferTooSmall)?;
        let (data, pad) = dst.split_at_mut(bytes.len());
        data.copy_from_slice(bytes);
        pad.fill(0);
        self.len = padded;
        Ok(())
    }

    /// Appends a fixed family header (ndmsg, ifinfomsg, ...).
    pub(crate) fn family_header<T: IntoBytes + Immutable>(
        &mut self,
        header: &T,
    ) -> Result<(), BuildError> {
        self.put(header.as_bytes())
    }

    /// Appends one attribute of type `kind` with value `value`.
    pub(crate) fn attr(&mut self, kind: u16, value: &[u8]) -> Result<(), BuildError> {
        let len = u16::try_from(RTA_HDRLEN + value.len()).map_err(|_| BuildError::AttrTooLong)?;
        let hdr = RtAttrHdr {
            len: len.into(),
            kind: kind.into(),
        };
        let start = self.len;
        self.put(hdr.as_bytes())?;
        // The header was 4 bytes, so no padding went in yet: the value follows directly.
        if let Err(e) = self.put(value) {
            self.len = start;
            return Err(e);
        }
        Ok(())
    }

    /// Patches `nlmsg_len` and returns the message length (a multiple of 4).
    pub(crate) fn finish(self) -> Result<usize, BuildError> {
        let len = u32::try_from(self.len).map_err(|_| BuildError::BufferTooSmall)?;
        let dst = self.buf.get_mut(..4).ok_or(BuildError::BufferTooSmall)?;
        dst.copy_from_slice(&len.to_ne_bytes());
        debug_assert!(self.len >= NLMSG_HDRLEN);
        Ok(self.len)
    }
}
