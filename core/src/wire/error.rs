//! `NLMSG_ERROR` (`struct nlmsgerr` + extended ack) and `NLMSG_DONE` (an `int` + extended ack).

use zerocopy::byteorder::native_endian::I32;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::attr::AttrIter;
use super::consts::{
    NLMSGERR_ATTR_MSG, NLMSGERR_ATTR_OFFS, NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN, NLM_F_ACK_TLVS,
    NLM_F_CAPPED,
};
use super::nlmsg::{align, Message, NlMsgHdr};
use super::WireError;

/// `struct nlmsgerr` without the original payload: the error and the original header.
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
pub struct NlMsgErr {
    /// 0 for an ACK, else a negative errno.
    pub error: I32,
    /// The header of the request this answers.
    pub original: NlMsgHdr,
}

/// Size of [`NlMsgErr`].
pub const NLMSGERR_LEN: usize = 20;
static_assertions::const_assert_eq!(core::mem::size_of::<NlMsgErr>(), NLMSGERR_LEN);

/// An `NLMSG_ERROR`: an ACK when `error == 0`, otherwise the kernel's refusal of a request,
/// with the extended-ack text when the socket enabled `NETLINK_EXT_ACK`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorMessage<'a> {
    /// As sent: 0 (ACK) or a negative errno. (A positive value is kept as sent.)
    pub error: i32,
    /// A copy of the header of the request this answers (its seq identifies it).
    pub original: NlMsgHdr,
    /// `NLMSGERR_ATTR_MSG` without its NUL terminator, e.g. `b"Invalid header for neighbor dump request"`.
    pub ext_ack_msg: Option<&'a [u8]>,
    /// `NLMSGERR_ATTR_OFFS`: byte offset in the request of the offending attribute.
    pub ext_ack_offset: Option<u32>,
}

/// Reads the extended-ack TLVs in `tlvs` into (message, offset).
fn ext_ack(tlvs: &[u8]) -> Result<(Option<&[u8]>, Option<u32>), WireError> {
    let (mut msg, mut offs) = (None, None);
    for attr in AttrIter::new(tlvs) {
        let attr = attr?;
        match attr.kind() {
            NLMSGERR_ATTR_MSG => msg = Some(attr.c_str()),
            NLMSGERR_ATTR_OFFS => offs = Some(attr.u32()?),
            _ => {}
        }
    }
    Ok((msg, offs))
}

impl<'a> ErrorMessage<'a> {
    /// Parses an `NLMSG_ERROR`. The original request's payload (present unless
    /// `NLM_F_CAPPED`) is skipped using the original header's length; the extended-ack
    /// TLVs after it are read only when `NLM_F_ACK_TLVS` is set.
    ///
    /// Errors: [`WireError::WrongType`]; [`WireError::Truncated`] when shorter than
    /// `nlmsgerr`; [`WireError::BadLength`] when the echoed request does not fit;
    /// attribute errors in the TLVs. Cost: O(TLVs).
    pub fn parse(msg: &Message<'a>) -> Result<Self, WireError> {
        if msg.kind() != NLMSG_ERROR {
            return Err(WireError::WrongType { kind: msg.kind() });
        }
        let Ok((e, _)) = NlMsgErr::read_from_prefix(msg.payload()) else {
            return Err(WireError::Truncated);
        };
        let mut m = ErrorMessage {
            error: e.error.get(),
            original: e.original,
            ext_ack_msg: None,
            ext_ack_offset: None,
        };
        if msg.flags() & NLM_F_ACK_TLVS != 0 {
            let echoed = if msg.flags() & NLM_F_CAPPED != 0 {
                NLMSG_HDRLEN
            } else {
                align((e.original.len.get() as usize).max(NLMSG_HDRLEN))
            };
            let tlvs = msg
                .payload()
                .get(echoed.saturating_add(4)..)
                .ok_or(WireError::BadLength)?;
            (m.ext_ack_msg, m.ext_ack_offset) = ext_ack(tlvs)?;
        }
        Ok(m)
    }

    /// True for an ACK (`error == 0`).
    pub fn is_ack(&self) -> bool {
        self.error == 0
    }

    /// The positive errno (`-error`), 0 for an ACK.
    pub fn errno(&self) -> i32 {
        self.error.saturating_neg()
    }

    /// The extended-ack text as UTF-8, when present and valid.
    pub fn ext_ack_str(&self) -> Option<&'a str> {
        self.ext_ack_msg.and_then(|m| core::str::from_utf8(m).ok())
    }
}

/// An `NLMSG_DONE`: the end of a dump, with the dump's error code (0, or a negative errno
/// when the dump failed, e.g. `-EINVAL` for a request a strict-checking kernel rejects)
/// and, when the socket enabled `NETLINK_EXT_ACK`, the kernel's extended-ack text: dump
/// request errors arrive here rather than in an `NLMSG_ERROR`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DoneMessage<'a> {
    /// As sent: 0 or a negative errno.
    pub error: i32,
    /// `NLMSGERR_ATTR_MSG` without its NUL terminator.
    pub ext_ack_msg: Option<&'a [u8]>,
    /// `NLMSGERR_ATTR_OFFS`: byte offset in the request of the offending attribute.
    pub ext_ack_offset: Option<u32>,
}

impl<'a> DoneMessage<'a> {
    /// Parses an `NLMSG_DONE`; the extended-ack TLVs after the `int` are read only when
    /// `NLM_F_ACK_TLVS` is set. Errors: [`WireError::WrongType`]; [`WireError::Truncated`]
    /// when the payload is shorter than the `int` every rtnetlink dump sends; attribute
    /// errors in the TLVs. Cost: O(TLVs).
    pub fn parse(msg: &Message<'a>) -> Result<Self, WireError> {
        if msg.kind() != NLMSG_DONE {
            return Err(WireError::WrongType { kind: msg.kind() });
        }
        let Ok((error, tlvs)) = I32::read_from_prefix(msg.payload()) else {
            return Err(WireError::Truncated);
        };
        let mut m = DoneMessage {
            error: error.get(),
            ext_ack_msg: None,
            ext_ack_offset: None,
        };
        if msg.flags() & NLM_F_ACK_TLVS != 0 {
            (m.ext_ack_msg, m.ext_ack_offset) = ext_ack(tlvs)?;
        }
        Ok(m)
    }

    /// The positive errno (`-error`), 0 when the dump completed.
    pub fn errno(&self) -> i32 {
        self.error.saturating_neg()
    }

    /// The extended-ack text as UTF-8, when present and valid.
    pub fn ext_ack_str(&self) -> Option<&'a str> {
        self.ext_ack_msg.and_then(|m| core::str::from_utf8(m).ok())
    }
}
