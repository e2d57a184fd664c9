//! The rtnetlink codec: zero-copy views over received bytes and builders for requests.
//!
//! Reading: [`MessageIter`] walks the messages of one datagram, [`Message::parse`] turns
//! each into a [`Parsed`] (a [`NeighMessage`], [`LinkMessage`], [`ErrorMessage`], ...),
//! and [`ingest`] decides what the map does with a neighbor message. Every view borrows
//! the receive buffer, checks each length once and never panics or allocates: malformed
//! input is a [`WireError`].
//!
//! Writing: the functions of [`request`] (re-exported here) write one request into a
//! caller's buffer and return its length, or a [`BuildError`].
//!
//! One file per wire format: [`nlmsg`] (nlmsghdr), [`attr`] (rtattr), [`neigh`] (ndmsg +
//! NDA_*), [`link`] (ifinfomsg + IFLA_*), [`ntable`] (ndtmsg + NDTA_*/NDTPA_*: neighbor
//! table parameters), [`error`] (nlmsgerr, NLMSG_DONE), [`consts`].

pub mod attr;
pub mod consts;
pub mod error;
mod ingest;
pub mod link;
pub mod neigh;
pub mod nlmsg;
pub mod ntable;
mod ntf;
mod nud;
mod parsed;
pub mod request;
mod writer;

pub use attr::{Attr, AttrIter};
pub use error::{DoneMessage, ErrorMessage, NlMsgErr};
pub use ingest::ingest;
pub use link::{IfInfoMsg, LinkMessage};
pub use neigh::{CacheInfo, NdMsg, NeighMessage};
pub use nlmsg::{Message, MessageIter, NlMsgHdr};
pub use ntable::{NtableChange, NtableMessage, NtableParms};
pub use ntf::{NtfExtFlags, NtfFlags};
pub use nud::NudState;
pub use parsed::Parsed;
pub use request::{
    link_dump, neigh_del, neigh_dump, neigh_get, neigh_new, DumpFilter, NeighRequest, NewMode,
};

/// Why received bytes could not be read. Each variant names the check that failed; the
/// offending message can be skipped (see [`MessageIter`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WireError {
    /// The bytes end inside a fixed-size header (nlmsghdr, ndmsg, ifinfomsg, nlmsgerr,
    /// rtattr, NLMSG_DONE's int).
    Truncated,
    /// `nlmsg_len` is below the header size or past the end of the buffer, or an
    /// `NLMSG_ERROR` echoes a request longer than itself.
    BadLength,
    /// An attribute's `rta_len` is below 4 or past the end of its container.
    BadAttrLength,
    /// A known attribute's value has the wrong size for its type (e.g. NDA_DST of 5 bytes).
    AttrSize {
        /// The attribute type (masked).
        kind: u16,
    },
    /// The message is not of a type this view parses.
    WrongType {
        /// The message's `nlmsg_type`.
        kind: u16,
    },
}

impl core::fmt::Display for WireError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            WireError::Truncated => f.write_str("netlink message truncated inside a header"),
            WireError::BadLength => f.write_str("netlink message length out of range"),
            WireError::BadAttrLength => f.write_str("netlink attribute length out of range"),
            WireError::AttrSize { kind } => {
                write!(f, "netlink attribute {kind} has the wrong size")
            }
            WireError::WrongType { kind } => write!(f, "unexpected netlink message type {kind}"),
        }
    }
}

impl core::error::Error for WireError {}

/// Why a request could not be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BuildError {
    /// The caller's buffer is too short ([`request::REQUEST_BUF_LEN`] always suffices
    /// for requests).
    BufferTooSmall,
    /// A link-layer address longer than the kernel's `MAX_ADDR_LEN` (32).
    LladdrTooLong,
    /// An attribute value longer than an attribute can hold (65531 bytes).
    AttrTooLong,
}

impl core::fmt::Display for BuildError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            BuildError::BufferTooSmall => "buffer too small for the netlink request",
            BuildError::LladdrTooLong => "link-layer address longer than 32 bytes",
            BuildError::AttrTooLong => "netlink attribute value too long",
        })
    }
}

impl core::error::Error for BuildError {}
