//! [`Parsed`]: a message dispatched on its type to the typed view that understands it.

use super::consts::*;
use super::error::{DoneMessage, ErrorMessage};
use super::link::LinkMessage;
use super::neigh::NeighMessage;
use super::nlmsg::Message;
use super::WireError;

/// What one netlink message is, as neigh understands it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// RTM_NEWNEIGH / RTM_DELNEIGH / RTM_GETNEIGH.
    Neigh(NeighMessage<'a>),
    /// RTM_NEWLINK / RTM_DELLINK / RTM_GETLINK.
    Link(LinkMessage<'a>),
    /// NLMSG_ERROR: an ACK when `error == 0`.
    Error(ErrorMessage<'a>),
    /// NLMSG_DONE: end of a dump, with its error code.
    Done(DoneMessage<'a>),
    /// NLMSG_OVERRUN.
    Overrun,
    /// NLMSG_NOOP.
    Noop,
    /// Any other type, unparsed.
    Other(Message<'a>),
}

impl<'a> Parsed<'a> {
    /// Dispatches `msg` on its type. Errors: those of the typed view. Cost: O(payload).
    pub fn parse(msg: &Message<'a>) -> Result<Self, WireError> {
        Ok(match msg.kind() {
            RTM_NEWNEIGH | RTM_DELNEIGH | RTM_GETNEIGH => Parsed::Neigh(NeighMessage::parse(msg)?),
            RTM_NEWLINK | RTM_DELLINK | RTM_GETLINK => Parsed::Link(LinkMessage::parse(msg)?),
            NLMSG_ERROR => Parsed::Error(ErrorMessage::parse(msg)?),
            NLMSG_DONE => Parsed::Done(DoneMessage::parse(msg)?),
            NLMSG_OVERRUN => Parsed::Overrun,
            NLMSG_NOOP => Parsed::Noop,
            _ => Parsed::Other(*msg),
        })
    }
}
