//! `struct nlmsghdr` and the iterator over the netlink messages of one received datagram.

use zerocopy::byteorder::native_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::consts::{NLMSG_ALIGNTO, NLMSG_HDRLEN};
use super::{Parsed, WireError};

/// `struct nlmsghdr`, as it lies in the buffer (native byte order, no alignment needed).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    FromBytes,
    IntoBytes,
    KnownLayout,
    Immutable,
    Unaligned,
)]
#[repr(C)]
pub struct NlMsgHdr {
    /// Length of the message including this header (`nlmsg_len`).
    pub len: U32,
    /// Message type (`nlmsg_type`): `RTM_*` or `NLMSG_*`.
    pub kind: U16,
    /// Flags (`nlmsg_flags`): `NLM_F_*`.
    pub flags: U16,
    /// Sequence number (`nlmsg_seq`).
    pub seq: U32,
    /// Port id (`nlmsg_pid`) of the sender (0 for the kernel) or, in replies, the requester.
    pub port: U32,
}

static_assertions::const_assert_eq!(core::mem::size_of::<NlMsgHdr>(), NLMSG_HDRLEN);

impl NlMsgHdr {
    /// A header with the given fields.
    pub const fn new(len: u32, kind: u16, flags: u16, seq: u32, port: u32) -> Self {
        Self {
            len: U32::new(len),
            kind: U16::new(kind),
            flags: U16::new(flags),
            seq: U32::new(seq),
            port: U32::new(port),
        }
    }

    /// `nlmsg_len`.
    pub fn len(&self) -> u32 {
        self.len.get()
    }

    /// True when `nlmsg_len` is 0 (never valid on the wire).
    pub fn is_empty(&self) -> bool {
        self.len.get() == 0
    }

    /// `nlmsg_type`.
    pub fn kind(&self) -> u16 {
        self.kind.get()
    }

    /// `nlmsg_flags`.
    pub fn flags(&self) -> u16 {
        self.flags.get()
    }

    /// `nlmsg_seq`.
    pub fn seq(&self) -> u32 {
        self.seq.get()
    }

    /// `nlmsg_pid`.
    pub fn port(&self) -> u32 {
        self.port.get()
    }
}

/// Rewrites the `nlmsg_flags` of the message at the start of `bytes` to `f(flags)`: a
/// request built with a builder's flags can be re-flagged in place (e.g. `NLM_F_ACK` on
/// the last request of a pipelined window only).
///
/// Errors: [`WireError::Truncated`] when `bytes` is shorter than a header. Cost: O(1).
pub fn update_flags(bytes: &mut [u8], f: impl FnOnce(u16) -> u16) -> Result<(), WireError> {
    let (hdr, _) = NlMsgHdr::mut_from_prefix(bytes).map_err(|_| WireError::Truncated)?;
    hdr.flags.set(f(hdr.flags.get()));
    Ok(())
}

/// Rounds `len` up to the netlink alignment (`NLMSG_ALIGN`/`RTA_ALIGN`), saturating.
#[inline]
pub const fn align(len: usize) -> usize {
    match len.checked_add(NLMSG_ALIGNTO - 1) {
        Some(n) => n & !(NLMSG_ALIGNTO - 1),
        None => usize::MAX & !(NLMSG_ALIGNTO - 1),
    }
}

/// One netlink message, borrowed from a receive buffer. Its length has been checked against
/// the buffer: `bytes()` is exactly `nlmsg_len` bytes, the first 16 of which are the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    header: &'a NlMsgHdr,
    payload: &'a [u8],
    bytes: &'a [u8],
}

impl<'a> Message<'a> {
    /// Checks and borrows the message at the start of `bytes`; returns it and the bytes after
    /// its aligned end (empty when the last message was not padded).
    ///
    /// Errors: [`WireError::Truncated`] when fewer than 16 bytes remain,
    /// [`WireError::BadLength`] when `nlmsg_len` is below 16 or past the end of `bytes`.
    /// Cost: O(1).
    #[inline]
    pub fn new_checked(bytes: &'a [u8]) -> Result<(Self, &'a [u8]), WireError> {
        let Ok((header, _)) = NlMsgHdr::ref_from_prefix(bytes) else {
            return Err(WireError::Truncated);
        };
        let len = header.len.get() as usize;
        if len < NLMSG_HDRLEN || len > bytes.len() {
            return Err(WireError::BadLength);
        }
        let (msg, rest) = bytes.split_at(len);
        let rest = rest.get(align(len) - len..).unwrap_or(&[]);
        Ok((
            Self {
                header,
                payload: &msg[NLMSG_HDRLEN..],
                bytes: msg,
            },
            rest,
        ))
    }

    /// The header.
    pub fn header(&self) -> &'a NlMsgHdr {
        self.header
    }

    /// `nlmsg_type`: `RTM_*` or `NLMSG_*`.
    #[inline]
    pub fn kind(&self) -> u16 {
        self.header.kind.get()
    }

    /// `nlmsg_flags`.
    #[inline]
    pub fn flags(&self) -> u16 {
        self.header.flags.get()
    }

    /// `nlmsg_seq`.
    pub fn seq(&self) -> u32 {
        self.header.seq.get()
    }

    /// `nlmsg_pid`.
    pub fn port(&self) -> u32 {
        self.header.port.get()
    }

    /// The bytes after the header, up to `nlmsg_len` (alignment padding excluded).
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// The whole message, header included (`nlmsg_len` bytes).
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Parses the payload according to the message type; see [`Parsed`].
    /// Errors: whatever the typed view reports for a malformed payload. Cost: O(payload).
    pub fn parse(&self) -> Result<Parsed<'a>, WireError> {
        Parsed::parse(self)
    }
}

/// Iterates over the netlink messages in one received datagram.
///
/// Yields `Ok(Message)` for every message whose header and length are sound. A header that
/// is cut short or whose length is below the header or past the buffer yields one
/// `Err` and ends the iteration, since nothing after it can be located; a message whose
/// payload is malformed is still yielded (its [`Message::parse`] reports the error) and
/// the iteration continues after it. Never loops: each step consumes at least 16 bytes.
#[derive(Clone, Debug)]
pub struct MessageIter<'a> {
    rest: &'a [u8],
}

impl<'a> MessageIter<'a> {
    /// An iterator over the messages in `bytes` (one `recv` worth). Cost: O(1).
    pub const fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }
}

impl<'a> Iterator for MessageIter<'a> {
    type Item = Result<Message<'a>, WireError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match Message::new_checked(self.rest) {
            Ok((msg, rest)) => {
                self.rest = rest;
                Some(Ok(msg))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

impl core::iter::FusedIterator for MessageIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(kind: u16, payload: &[u8], out: &mut [u8]) -> usize {
        let len = NLMSG_HDRLEN + payload.len();
        NlMsgHdr::new(len as u32, kind, 0, 7, 0)
            .write_to_prefix(out)
            .unwrap();
        out[NLMSG_HDRLEN..len].copy_from_slice(payload);
        align(len)
    }

    #[test]
    fn iterates_aligned_messages() {
        let mut buf = [0u8; 64];
        let a = msg(100, &[1, 2, 3], &mut buf);
        let b = msg(101, &[9; 4], &mut buf[a..]);
        let kinds: Vec<_> = MessageIter::new(&buf[..a + b])
            .map(|m| m.unwrap().kind())
            .collect();
        assert_eq!(kinds, [100, 101]);
        let first = MessageIter::new(&buf).next().unwrap().unwrap();
        assert_eq!(first.payload(), &[1, 2, 3]);
        assert_eq!(first.bytes().len(), 19);
        assert_eq!(first.seq(), 7);
    }

    #[test]
    fn last_message_without_padding() {
        let mut buf = [0u8; 32];
        let n = msg(100, &[1], &mut buf);
        let mut it = MessageIter::new(&buf[..n - 3]);
        assert_eq!(it.next().unwrap().unwrap().payload(), &[1]);
        assert!(it.next().is_none());
    }

    #[test]
    fn bad_lengths_end_iteration() {
        let mut buf = [0u8; 32];
        msg(100, &[], &mut buf);
        for bad in [0u32, 15, 33] {
            buf[..4].copy_from_slice(&bad.to_ne_bytes());
            let mut it = MessageIter::new(&buf);
            assert_eq!(it.next(), Some(Err(WireError::BadLength)));
            assert_eq!(it.next(), None);
        }
        let mut it = MessageIter::new(&buf[..15]);
        assert_eq!(it.next(), Some(Err(WireError::Truncated)));
        assert_eq!(it.next(), None);
    }

    #[test]
    fn align_saturates() {
        assert_eq!(align(0), 0);
        assert_eq!(align(5), 8);
        assert_eq!(align(usize::MAX), usize::MAX & !3);
    }
}
