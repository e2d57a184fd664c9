//! `neigh-forwarder`: a small L3 forwarder that takes every next-hop MAC from the
//! mirror's shared-memory map, to show (and measure) what a kernel-bypass data plane on
//! `neigh` looks like.
//!
//! Frames arrive and leave through AF_XDP sockets ([`xdp`]: one UMEM shared by all
//! ports, fill/completion/RX/TX rings, and a 27-instruction XDP program that hands
//! unicast IP frames to the sockets and everything else, ARP and NDP included, to the
//! kernel), or through AF_PACKET sockets with TPACKET_V3 receive rings ([`packet`])
//! where AF_XDP is not available. Either way ([`ports::Ports`]) each receive batch goes
//! through the same [`pipeline::Pipeline`]: parse ([`frame`]), route ([`route`]), one
//! burst lookup of all next hops in the map, rewrite the Ethernet header and the TTL,
//! send; a next hop the map misses is asked for through the map's request ring
//! ([`requests`]) and the packet dropped. [`forward`] is the loop, and [`hops`] the map
//! it reads, joined again when the mirror replaces the region; [`counters`] are readable
//! while it runs; [`args`] is the command line and [`iface`] finds interfaces.
pub mod args;
pub mod counters;
pub mod forward;
pub mod frame;
pub mod hops;
pub mod iface;
pub mod packet;
pub mod pipeline;
pub mod ports;
pub mod requests;
pub mod route;
pub mod xdp;
