//! Numeric constants of the netlink / rtnetlink ABI (`linux/netlink.h`, `linux/rtnetlink.h`,
//! `linux/neighbour.h`, `linux/if_link.h`), with the kernel's names.
//!
//! Only what neigh reads or writes is here. Values are part of the stable kernel ABI.

// --- Message types (nlmsg_type) ---

/// No-op message; receivers skip it.
pub const NLMSG_NOOP: u16 = 0x1;
/// Error or ACK (`struct nlmsgerr` payload; error 0 is an ACK).
pub const NLMSG_ERROR: u16 = 0x2;
/// End of a multipart (dump) reply; payload is an `int` error code.
pub const NLMSG_DONE: u16 = 0x3;
/// Data lost (not sent by current kernels, kept for completeness).
pub const NLMSG_OVERRUN: u16 = 0x4;

/// New link (reply to a link dump, or an event).
pub const RTM_NEWLINK: u16 = 16;
/// Link removed (event).
pub const RTM_DELLINK: u16 = 17;
/// Request a link dump or a single link.
pub const RTM_GETLINK: u16 = 18;
/// New or changed neighbor (dump reply, event, or a request to add/change).
pub const RTM_NEWNEIGH: u16 = 28;
/// Neighbor removed (event, or a request to delete).
pub const RTM_DELNEIGH: u16 = 29;
/// Request a neighbor dump or a single neighbor.
pub const RTM_GETNEIGH: u16 = 30;
/// A neighbor table's parameters and statistics (reply to GETNEIGHTBL).
pub const RTM_NEWNEIGHTBL: u16 = 64;
/// Dump the neighbor tables' parameters and statistics.
pub const RTM_GETNEIGHTBL: u16 = 66;
/// Change a neighbor table's (or one interface's) parameters.
pub const RTM_SETNEIGHTBL: u16 = 67;

// --- nlmsg_flags ---

/// A request (must be set on everything sent to the kernel).
pub const NLM_F_REQUEST: u16 = 0x01;
/// Part of a multipart reply, terminated by `NLMSG_DONE`.
pub const NLM_F_MULTI: u16 = 0x02;
/// Ask for an ACK (an `NLMSG_ERROR` with error 0) on success.
pub const NLM_F_ACK: u16 = 0x04;
/// Echo the request back (to the requester).
pub const NLM_F_ECHO: u16 = 0x08;
/// The dump was interrupted by a change: its contents may be inconsistent.
pub const NLM_F_DUMP_INTR: u16 = 0x10;
/// The dump was filtered by the kernel as the request asked (strict checking).
pub const NLM_F_DUMP_FILTERED: u16 = 0x20;
/// GET modifier: return the whole table.
pub const NLM_F_ROOT: u16 = 0x100;
/// GET modifier: return everything matching.
pub const NLM_F_MATCH: u16 = 0x200;
/// GET modifier: a dump (`ROOT | MATCH`).
pub const NLM_F_DUMP: u16 = NLM_F_ROOT | NLM_F_MATCH;
/// NEW modifier: replace an existing object.
pub const NLM_F_REPLACE: u16 = 0x100;
/// NEW modifier: fail if the object exists.
pub const NLM_F_EXCL: u16 = 0x200;
/// NEW modifier: create if it does not exist.
pub const NLM_F_CREATE: u16 = 0x400;
/// NEW modifier: append to the end of a list.
pub const NLM_F_APPEND: u16 = 0x800;
/// On `NLMSG_ERROR`: the original request's payload was not echoed back.
pub const NLM_F_CAPPED: u16 = 0x100;
/// On `NLMSG_ERROR`/`NLMSG_DONE`: extended-ack TLVs follow.
pub const NLM_F_ACK_TLVS: u16 = 0x200;

/// Size of `struct nlmsghdr`.
pub const NLMSG_HDRLEN: usize = 16;
/// Netlink messages and attributes are aligned to this many bytes.
pub const NLMSG_ALIGNTO: usize = 4;

// --- Extended ack attributes (in NLMSG_ERROR / NLMSG_DONE after the payload) ---

/// Human-readable error text (NUL-terminated string).
pub const NLMSGERR_ATTR_MSG: u16 = 1;
/// Byte offset in the original request of the attribute that caused the error (u32).
pub const NLMSGERR_ATTR_OFFS: u16 = 2;
/// Arbitrary subsystem-specific cookie.
pub const NLMSGERR_ATTR_COOKIE: u16 = 3;

// --- Neighbor attributes (NDA_*) ---

/// Unused attribute type 0.
pub const NDA_UNSPEC: u16 = 0;
/// Protocol address: 4 bytes (IPv4) or 16 bytes (IPv6).
pub const NDA_DST: u16 = 1;
/// Link-layer address, any length (6 for Ethernet, 0 for NOARP devices).
pub const NDA_LLADDR: u16 = 2;
/// `struct nda_cacheinfo`: confirmed, used, updated (ms ago), refcnt.
pub const NDA_CACHEINFO: u16 = 3;
/// Number of probes sent (u32).
pub const NDA_PROBES: u16 = 4;
/// Bridge FDB VLAN id (u16).
pub const NDA_VLAN: u16 = 5;
/// VXLAN destination UDP port (u16, network byte order).
pub const NDA_PORT: u16 = 6;
/// VXLAN network identifier (u32).
pub const NDA_VNI: u16 = 7;
/// VXLAN outgoing interface index (u32).
pub const NDA_IFINDEX: u16 = 8;
/// Master (bridge/VRF) interface index (u32); also a dump filter.
pub const NDA_MASTER: u16 = 9;
/// Network namespace id of the link (s32).
pub const NDA_LINK_NETNSID: u16 = 10;
/// VXLAN source VNI (u32).
pub const NDA_SRC_VNI: u16 = 11;
/// Who installed the entry (u8, RTPROT_*).
pub const NDA_PROTOCOL: u16 = 12;
/// Nexthop id (u32).
pub const NDA_NH_ID: u16 = 13;
/// Bridge FDB extension attributes (nested; passed through).
pub const NDA_FDB_EXT_ATTRS: u16 = 14;
/// Extended flags NTF_EXT_* (u32).
pub const NDA_FLAGS_EXT: u16 = 15;
/// Request-only: state bits to match (u16).
pub const NDA_NDM_STATE_MASK: u16 = 16;
/// Request-only: flag bits to match (u8).
pub const NDA_NDM_FLAGS_MASK: u16 = 17;

// --- Neighbor table attributes (NDTA_*, NDTPA_*) ---

/// Table name ("arp_cache", "ndisc_cache"; NUL-terminated).
pub const NDTA_NAME: u16 = 1;
/// gc_thresh1 (u32).
pub const NDTA_THRESH1: u16 = 2;
/// gc_thresh2 (u32).
pub const NDTA_THRESH2: u16 = 3;
/// gc_thresh3 (u32).
pub const NDTA_THRESH3: u16 = 4;
/// `struct ndt_config`.
pub const NDTA_CONFIG: u16 = 5;
/// Nested NDTPA_* parameters (of the table, or of one interface with NDTPA_IFINDEX).
pub const NDTA_PARMS: u16 = 6;
/// `struct ndt_stats`.
pub const NDTA_STATS: u16 = 7;
/// Garbage collection interval in ms (u64).
pub const NDTA_GC_INTERVAL: u16 = 8;
/// Interface the parameters belong to (u32).
pub const NDTPA_IFINDEX: u16 = 1;
/// Reference count of the parameter set (u32).
pub const NDTPA_REFCNT: u16 = 2;
/// Current (randomised) reachable time, ms (u64).
pub const NDTPA_REACHABLE_TIME: u16 = 3;
/// base_reachable_time, ms (u64).
pub const NDTPA_BASE_REACHABLE_TIME: u16 = 4;
/// retrans_time, ms (u64).
pub const NDTPA_RETRANS_TIME: u16 = 5;
/// gc_stale_time, ms (u64).
pub const NDTPA_GC_STALETIME: u16 = 6;
/// delay_first_probe_time, ms (u64).
pub const NDTPA_DELAY_PROBE_TIME: u16 = 7;
/// Queue length in packets (u32).
pub const NDTPA_QUEUE_LEN: u16 = 8;
/// app_solicit (u32).
pub const NDTPA_APP_PROBES: u16 = 9;
/// ucast_solicit (u32).
pub const NDTPA_UCAST_PROBES: u16 = 10;
/// mcast_solicit (u32).
pub const NDTPA_MCAST_PROBES: u16 = 11;
/// anycast_delay, ms (u64).
pub const NDTPA_ANYCAST_DELAY: u16 = 12;
/// proxy_delay, ms (u64).
pub const NDTPA_PROXY_DELAY: u16 = 13;
/// proxy_qlen (u32).
pub const NDTPA_PROXY_QLEN: u16 = 14;
/// locktime, ms (u64).
pub const NDTPA_LOCKTIME: u16 = 15;
/// unres_qlen_bytes (u32).
pub const NDTPA_QUEUE_LENBYTES: u16 = 16;
/// mcast_resolicit (u32).
pub const NDTPA_MCAST_REPROBES: u16 = 17;
/// interval_probe_time_ms (u64).
pub const NDTPA_INTERVAL_PROBE_TIME_MS: u16 = 19;

// --- Link attributes (IFLA_*) ---

/// Link-layer address of the interface.
pub const IFLA_ADDRESS: u16 = 1;
/// Link-layer broadcast address.
pub const IFLA_BROADCAST: u16 = 2;
/// Interface name (NUL-terminated string).
pub const IFLA_IFNAME: u16 = 3;
/// MTU (u32).
pub const IFLA_MTU: u16 = 4;
/// Master interface index (u32).
pub const IFLA_MASTER: u16 = 10;
/// Link kind information (nested: IFLA_INFO_*).
pub const IFLA_LINKINFO: u16 = 18;
/// Inside IFLA_LINKINFO: the link kind ("vrf", "veth", "bridge", ...; NUL-terminated).
pub const IFLA_INFO_KIND: u16 = 1;
/// Request: extended info filter mask (u32, RTEXT_FILTER_*).
pub const IFLA_EXT_MASK: u16 = 29;

// --- Address families ---

/// Any family (link dumps, dump of every neighbor family).
pub const AF_UNSPEC: u8 = 0;
/// IPv4 (ARP neighbors).
pub const AF_INET: u8 = 2;
/// Bridge forwarding database entries (not neighbors; ignored by ingest).
pub const AF_BRIDGE: u8 = 7;
/// IPv6 (NDP neighbors).
pub const AF_INET6: u8 = 10;

// --- Multicast groups (bit number, for NETLINK_ADD_MEMBERSHIP) ---

/// Link events.
pub const RTNLGRP_LINK: u32 = 1;
/// Neighbor events.
pub const RTNLGRP_NEIGH: u32 = 3;

// --- ARP hardware types (ifi_type) ---

/// Ethernet (`ifi_type`).
pub const ARPHRD_ETHER: u16 = 1;
/// Loopback (`ifi_type`).
pub const ARPHRD_LOOPBACK: u16 = 772;
/// No link-layer header, e.g. tun (`ifi_type`).
pub const ARPHRD_NONE: u16 = 0xfffe;

// --- Route/neighbor protocols (NDA_PROTOCOL values) ---

/// Unknown origin.
pub const RTPROT_UNSPEC: u8 = 0;
/// Installed by the kernel.
pub const RTPROT_KERNEL: u8 = 2;
/// Installed during boot (the default for `ip` without `proto`).
pub const RTPROT_BOOT: u8 = 3;
/// Installed by an administrator.
pub const RTPROT_STATIC: u8 = 4;

/// `ndm_type` (route type) value the kernel sends for unicast neighbors.
pub const RTN_UNICAST: u8 = 1;

/// Attribute type bits that are flags, not type: `NLA_F_NESTED | NLA_F_NET_BYTEORDER`.
pub const NLA_TYPE_MASK: u16 = 0x3fff;

/// Longest link-layer address the kernel accepts (`MAX_ADDR_LEN`).
pub const MAX_ADDR_LEN: usize = 32;
