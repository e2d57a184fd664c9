//! The rtnetlink socket: a libc `NETLINK_ROUTE` socket whose every received datagram is
//! checked, with request/response, dump and event APIs on top.
//!
//! - [`RouteSocket`] (`socket.rs`): open/bind with a big receive buffer, `NETLINK_EXT_ACK`,
//!   `NETLINK_GET_STRICT_CHK`, memberships, nonblocking mode. Datagrams whose sender is not
//!   the kernel are dropped and counted ([`DropCounters`]); `MSG_TRUNC` cannot happen (the
//!   buffer is sized with `MSG_PEEK | MSG_TRUNC` first).
//! - `exchange.rs`: [`RouteSocket::request`] (dump, get, or acked change; replies must carry
//!   our sequence number and port id; `NLMSG_ERROR` becomes an `io::Error` with a
//!   [`KernelError`]; `NLMSG_DONE` ends a dump and its error code is honored),
//!   [`RouteSocket::dump_neighbors`] (a neighbor dump, parsed),
//!   [`RouteSocket::request_batch`] (many acked requests in few datagrams) and
//!   [`RouteSocket::recv_events`] (multicast subscriptions).
//! - `window.rs`: [`RouteSocket::send_window`], pipelined changes: one datagram of
//!   requests, one ACK on the last, every refusal still reported with its index.
//!
//! Requests are built with `neigh_core::wire` builders into a caller's buffer, with a
//! sequence number from [`RouteSocket::next_seq`]. Messages reach callers as borrowed
//! `neigh_core::wire::Message`s: no allocation per message.

mod error;
mod exchange;
mod socket;
mod window;

pub use error::{strerror, KernelError};
pub use exchange::Completion;
pub use socket::{DropCounters, RouteSocket, SocketOptions, DEFAULT_RCVBUF};
pub use window::WINDOW_BYTES;
