//! `struct ndtmsg` + NDTA_* / NDTPA_*: a neighbor table's parameters and statistics
//! (`RTM_NEWNEIGHTBL`, what `ip ntable show` prints), and the `RTM_GETNEIGHTBL` dump and
//! `RTM_SETNEIGHTBL` change requests.
//!
//! The kernel sends one message for each table (thresholds, gc interval, `ndt_config`,
//! `ndt_stats`, the default parameters) and one for each interface's parameters of each
//! table (NDTA_NAME plus NDTA_PARMS with NDTPA_IFINDEX).

use zerocopy::byteorder::native_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::attr::{Attr, AttrIter, RTA_HDRLEN};
use super::consts::*;
use super::nlmsg::{align, Message};
use super::writer::MessageWriter;
use super::{BuildError, WireError};

/// `struct ndtmsg`: the family and padding.
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
pub struct NdtMsg {
    /// `ndtm_family`.
    pub family: u8,
    /// Padding.
    pub pad1: u8,
    /// Padding.
    pub pad2: U16,
}

/// `struct ndt_config` (NDTA_CONFIG), as the kernel lays it out.
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
pub struct NdtConfig {
    pub key_len: U16,
    pub entry_size: U16,
    pub entries: U32,
    /// ms since the last flush.
    pub last_flush: U32,
    /// ms since the last re-randomisation of reachable times.
    pub last_rand: U32,
    pub hash_rnd: U32,
    pub hash_mask: U32,
    pub hash_chain_gc: U32,
    pub proxy_qlen: U32,
}

/// `struct ndt_stats` (NDTA_STATS).
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
pub struct NdtStats {
    pub allocs: U64,
    pub destroys: U64,
    pub hash_grows: U64,
    pub res_failed: U64,
    pub lookups: U64,
    pub hits: U64,
    pub rcv_probes_mcast: U64,
    pub rcv_probes_ucast: U64,
    pub periodic_gc_runs: U64,
    pub forced_gc_runs: U64,
    pub table_fulls: U64,
}

/// One parameter set (NDTA_PARMS): each NDTPA_* value when present. Times in ms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NtableParms {
    pub ifindex: Option<u32>,
    pub refcnt: Option<u32>,
    pub reachable: Option<u64>,
    pub base_reachable: Option<u64>,
    pub retrans: Option<u64>,
    pub gc_stale: Option<u64>,
    pub delay_probe: Option<u64>,
    pub queue: Option<u32>,
    pub app_probes: Option<u32>,
    pub ucast_probes: Option<u32>,
    pub mcast_probes: Option<u32>,
    pub anycast_delay: Option<u64>,
    pub proxy_delay: Option<u64>,
    pub proxy_queue: Option<u32>,
    pub locktime: Option<u64>,
    pub queue_bytes: Option<u32>,
    pub mcast_reprobes: Option<u32>,
    pub interval_probe: Option<u64>,
}

fn u64_of(a: &Attr<'_>) -> Result<u64, WireError> {
    a.array::<8>().map(u64::from_ne_bytes)
}

impl NtableParms {
    /// Parses the attributes nested in NDTA_PARMS. Errors: a malformed attribute, a
    /// known one of the wrong size. Unknown ones are skipped.
    pub fn parse(bytes: &[u8]) -> Result<Self, WireError> {
        let mut p = NtableParms::default();
        for a in AttrIter::new(bytes) {
            let a = a?;
            match a.kind() {
                NDTPA_IFINDEX => p.ifindex = Some(a.u32()?),
                NDTPA_REFCNT => p.refcnt = Some(a.u32()?),
                NDTPA_REACHABLE_TIME => p.reachable = Some(u64_of(&a)?),
                NDTPA_BASE_REACHABLE_TIME => p.base_reachable = Some(u64_of(&a)?),
                NDTPA_RETRANS_TIME => p.retrans = Some(u64_of(&a)?),
                NDTPA_GC_STALETIME => p.gc_stale = Some(u64_of(&a)?),
                NDTPA_DELAY_PROBE_TIME => p.delay_probe = Some(u64_of(&a)?),
                NDTPA_QUEUE_LEN => p.queue = Some(a.u32()?),
                NDTPA_APP_PROBES => p.app_probes = Some(a.u32()?),
                NDTPA_UCAST_PROBES => p.ucast_probes = Some(a.u32()?),
                NDTPA_MCAST_PROBES => p.mcast_probes = Some(a.u32()?),
                NDTPA_ANYCAST_DELAY => p.anycast_delay = Some(u64_of(&a)?),
                NDTPA_PROXY_DELAY => p.proxy_delay = Some(u64_of(&a)?),
                NDTPA_PROXY_QLEN => p.proxy_queue = Some(a.u32()?),
                NDTPA_LOCKTIME => p.locktime = Some(u64_of(&a)?),
                NDTPA_QUEUE_LENBYTES => p.queue_bytes = Some(a.u32()?),
                NDTPA_MCAST_REPROBES => p.mcast_reprobes = Some(a.u32()?),
                NDTPA_INTERVAL_PROBE_TIME_MS => p.interval_probe = Some(u64_of(&a)?),
                _ => {}
            }
        }
        Ok(p)
    }

    /// The settable parameters as (NDTPA_* type, value, value size in bytes), in
    /// attribute order: the interface first, then what ip sends (refcnt and the current
    /// reachable time are the kernel's, never sent).
    fn settable(&self) -> [(u16, Option<u64>, usize); 16] {
        let w = |v: Option<u32>| v.map(u64::from);
        [
            (NDTPA_IFINDEX, w(self.ifindex), 4),
            (NDTPA_BASE_REACHABLE_TIME, self.base_reachable, 8),
            (NDTPA_RETRANS_TIME, self.retrans, 8),
            (NDTPA_GC_STALETIME, self.gc_stale, 8),
            (NDTPA_DELAY_PROBE_TIME, self.delay_probe, 8),
            (NDTPA_QUEUE_LEN, w(self.queue), 4),
            (NDTPA_APP_PROBES, w(self.app_probes), 4),
            (NDTPA_UCAST_PROBES, w(self.ucast_probes), 4),
            (NDTPA_MCAST_PROBES, w(self.mcast_probes), 4),
            (NDTPA_ANYCAST_DELAY, self.anycast_delay, 8),
            (NDTPA_PROXY_DELAY, self.proxy_delay, 8),
            (NDTPA_PROXY_QLEN, w(self.proxy_queue), 4),
            (NDTPA_LOCKTIME, self.locktime, 8),
            (NDTPA_QUEUE_LENBYTES, w(self.queue_bytes), 4),
            (NDTPA_MCAST_REPROBES, w(self.mcast_reprobes), 4),
            (NDTPA_INTERVAL_PROBE_TIME_MS, self.interval_probe, 8),
        ]
    }
}

/// One `RTM_NEWNEIGHTBL`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NtableMessage<'a> {
    /// `ndtm_family`.
    pub family: u8,
    /// NDTA_NAME without its NUL.
    pub name: Option<&'a [u8]>,
    pub thresh1: Option<u32>,
    pub thresh2: Option<u32>,
    pub thresh3: Option<u32>,
    /// NDTA_GC_INTERVAL, ms.
    pub gc_interval: Option<u64>,
    pub config: Option<NdtConfig>,
    pub stats: Option<NdtStats>,
    pub parms: Option<NtableParms>,
}

impl<'a> NtableMessage<'a> {
    /// Parses a neighbor table message.
    ///
    /// Errors: [`WireError::WrongType`] unless RTM_NEWNEIGHTBL; [`WireError::Truncated`]
    /// when shorter than `ndtmsg` or when NDTA_CONFIG / NDTA_STATS are shorter than their
    /// structs (longer ones, from a newer kernel, are read up to what this code knows);
    /// malformed or mis-sized attributes. Cost: O(attributes), no allocation.
    pub fn parse(msg: &Message<'a>) -> Result<Self, WireError> {
        let kind = msg.kind();
        if kind != RTM_NEWNEIGHTBL {
            return Err(WireError::WrongType { kind });
        }
        let Ok((ndt, attrs)) = NdtMsg::ref_from_prefix(msg.payload()) else {
            return Err(WireError::Truncated);
        };
        let mut m = NtableMessage {
            family: ndt.family,
            ..Default::default()
        };
        for a in AttrIter::new(attrs) {
            let a = a?;
            match a.kind() {
                NDTA_NAME => m.name = Some(a.c_str()),
                NDTA_THRESH1 => m.thresh1 = Some(a.u32()?),
                NDTA_THRESH2 => m.thresh2 = Some(a.u32()?),
                NDTA_THRESH3 => m.thresh3 = Some(a.u32()?),
                NDTA_GC_INTERVAL => m.gc_interval = Some(u64_of(&a)?),
                NDTA_CONFIG => {
                    let (c, _) = NdtConfig::read_from_prefix(a.payload())
                        .map_err(|_| WireError::Truncated)?;
                    m.config = Some(c);
                }
                NDTA_STATS => {
                    let (s, _) = NdtStats::read_from_prefix(a.payload())
                        .map_err(|_| WireError::Truncated)?;
                    m.stats = Some(s);
                }
                NDTA_PARMS => m.parms = Some(NtableParms::parse(a.payload())?),
                _ => {}
            }
        }
        Ok(m)
    }
}

/// `RTM_GETNEIGHTBL` dump of the tables of `family` (AF_UNSPEC for all), with
/// `NLM_F_DUMP`. Errors: [`BuildError::BufferTooSmall`]. Cost: O(1).
pub fn ntable_dump(buf: &mut [u8], seq: u32, family: u8) -> Result<usize, BuildError> {
    let mut w = MessageWriter::new(buf, RTM_GETNEIGHTBL, NLM_F_REQUEST | NLM_F_DUMP, seq)?;
    w.family_header(&NdtMsg {
        family,
        ..Default::default()
    })?;
    w.finish()
}

/// What an `RTM_SETNEIGHTBL` changes: the table `name`, its thresholds and gc interval,
/// and the parameters in `parms` (of one interface when `parms.ifindex` is set; only
/// the settable ones are sent: not refcnt nor reachable).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NtableChange<'n> {
    pub family: u8,
    /// Table name, without NUL.
    pub name: &'n [u8],
    pub thresh1: Option<u32>,
    pub thresh2: Option<u32>,
    pub thresh3: Option<u32>,
    pub gc_interval: Option<u64>,
    pub parms: NtableParms,
}

/// The most bytes the nested NDTA_PARMS of a change takes.
const PARMS_MAX: usize = 160;

/// `RTM_SETNEIGHTBL` with `NLM_F_ACK` (and `NLM_F_REPLACE`, as ip sends it): NDTA_NAME, the thresholds and gc interval given,
/// and NDTA_PARMS when a parameter (or the interface) is given, as `ip ntable change`
/// sends them. Errors: [`BuildError::BufferTooSmall`] (256 bytes suffice for a name of
/// up to 64 bytes). Cost: O(1).
pub fn ntable_set(buf: &mut [u8], seq: u32, c: &NtableChange<'_>) -> Result<usize, BuildError> {
    let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_REPLACE;
    let mut w = MessageWriter::new(buf, RTM_SETNEIGHTBL, flags, seq)?;
    w.family_header(&NdtMsg {
        family: c.family,
        ..Default::default()
    })?;
    let mut name = [0u8; 65];
    let n = c.name.len();
    name.get_mut(..n)
        .ok_or(BuildError::AttrTooLong)?
        .copy_from_slice(c.name);
    w.attr(NDTA_NAME, &name[..=n])?;
    for (kind, v) in [
        (NDTA_THRESH1, c.thresh1),
        (NDTA_THRESH2, c.thresh2),
        (NDTA_THRESH3, c.thresh3),
    ] {
        if let Some(v) = v {
            w.attr(kind, &v.to_ne_bytes())?;
        }
    }
    if let Some(g) = c.gc_interval {
        w.attr(NDTA_GC_INTERVAL, &g.to_ne_bytes())?;
    }
    let mut nested = [0u8; PARMS_MAX];
    let mut len = 0;
    let mut put = |kind: u16, value: &[u8]| -> Result<(), BuildError> {
        let total = RTA_HDRLEN + value.len();
        let end = len + align(total);
        let dst = nested.get_mut(len..end).ok_or(BuildError::BufferTooSmall)?;
        dst.fill(0);
        dst[..2].copy_from_slice(&(total as u16).to_ne_bytes());
        dst[2..4].copy_from_slice(&kind.to_ne_bytes());
        dst[4..total].copy_from_slice(value);
        len = end;
        Ok(())
    };
    for (kind, value, size) in c.parms.settable() {
        let Some(v) = value else { continue };
        if size == 4 {
            put(kind, &(v as u32).to_ne_bytes())?;
        } else {
            put(kind, &v.to_ne_bytes())?;
        }
    }
    if len > 0 {
        w.attr(NDTA_PARMS, &nested[..len])?;
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::MessageIter;

    /// RTM_NEWNEIGHTBL messages a 6.18 kernel sent for `ip ntable show` in a network
    /// namespace: arp_cache itself (thresholds, gc interval, config, stats, default
    /// parameters), then arp_cache's parameters on interface 3.
    const KERNEL_TABLE: &str = "780100004000020001000000a5220000020000000e0001006172705f63616368650000000c000800307500000000000008000200800000000800030000020000080004000004000024000500040050010b000000f80b8600549e0100d1a2a26affff010000000000000000005c00070092bf4a010000000087bf4a01000000000e00000000000000a800000000000000154cec02000000000273a1010000000000000000000000000000000000000000410200000000000000000000000000000000000000000000b000060008000200010000000800100000400300080008006500000008000e0040000000080009000000000008000a000300000008000b000300000008001100000000000c00030068470000000000000c00040030750000000000000c00060060ea0000000000000c00070088130000000000000c000500e8030000000000000c000c00e8030000000000000c000d0020030000000000000c000f00e8030000000000000c0013008813000000000000";
    const KERNEL_DEV: &str = "dc0000004000020001000000a5220000020000000e0001006172705f6361636865000000b8000600080001000300000008000200020000000800100000400300080008006500000008000e0040000000080009000000000008000a000300000008000b000300000008001100000000000c0003007c3d0000000000000c00040030750000000000000c00060060ea0000000000000c00070088130000000000000c000500e8030000000000000c000c00e8030000000000000c000d0020030000000000000c000f00e8030000000000000c0013008813000000000000";

    /// Decodes a hex fixture into `buf`; returns its length.
    fn unhex(hex: &str, buf: &mut [u8; 512]) -> usize {
        let b = hex.as_bytes();
        let nib = |c: u8| (c as char).to_digit(16).unwrap() as u8;
        for i in 0..b.len() / 2 {
            buf[i] = nib(b[2 * i]) << 4 | nib(b[2 * i + 1]);
        }
        b.len() / 2
    }

    fn one(bytes: &[u8]) -> Message<'_> {
        MessageIter::new(bytes).next().unwrap().unwrap()
    }

    #[test]
    fn sizes_match_the_kernel() {
        assert_eq!(core::mem::size_of::<NdtMsg>(), 4);
        assert_eq!(core::mem::size_of::<NdtConfig>(), 32);
        assert_eq!(core::mem::size_of::<NdtStats>(), 88);
    }

    #[test]
    fn change_round_trips_through_the_parser() {
        let mut buf = [0u8; 256];
        let c = NtableChange {
            family: AF_INET,
            name: b"arp_cache",
            thresh3: Some(4096),
            gc_interval: Some(30_000),
            parms: NtableParms {
                ifindex: Some(3),
                queue: Some(5),
                base_reachable: Some(20_000),
                locktime: Some(1_000),
                mcast_reprobes: Some(2),
                refcnt: Some(9),
                ..Default::default()
            },
            ..Default::default()
        };
        let n = ntable_set(&mut buf, 7, &c).unwrap();
        let msg = one(&buf[..n]);
        assert_eq!((msg.kind(), msg.seq()), (RTM_SETNEIGHTBL, 7));
        assert_ne!(msg.flags() & NLM_F_ACK, 0);
        // Parse it back as if it were a NEWNEIGHTBL.
        let mut copy = [0u8; 256];
        copy[..n].copy_from_slice(&buf[..n]);
        copy[4..6].copy_from_slice(&RTM_NEWNEIGHTBL.to_ne_bytes());
        let m = NtableMessage::parse(&one(&copy[..n])).unwrap();
        assert_eq!(m.name, Some(&b"arp_cache"[..]));
        assert_eq!(
            (m.thresh1, m.thresh3, m.gc_interval),
            (None, Some(4096), Some(30_000))
        );
        let p = m.parms.unwrap();
        // refcnt and reachable are read-only: never sent.
        assert_eq!(
            p,
            NtableParms {
                ifindex: Some(3),
                queue: Some(5),
                base_reachable: Some(20_000),
                locktime: Some(1_000),
                mcast_reprobes: Some(2),
                ..Default::default()
            }
        );
        // A name that does not fit.
        let long = [b'x'; 70];
        let c = NtableChange {
            name: &long,
            ..Default::default()
        };
        assert!(ntable_set(&mut buf, 1, &c).is_err());
        assert!(ntable_set(&mut buf[..20], 1, &NtableChange::default()).is_err());
    }

    #[test]
    fn kernel_fixtures_parse() {
        let mut buf = [0u8; 512];
        let n = unhex(KERNEL_TABLE, &mut buf);
        let m = NtableMessage::parse(&one(&buf[..n])).unwrap();
        assert_eq!((m.family, m.name), (AF_INET, Some(&b"arp_cache"[..])));
        assert_eq!(
            (m.thresh1, m.thresh2, m.thresh3),
            (Some(128), Some(512), Some(1024))
        );
        assert_eq!(m.gc_interval, Some(30_000));
        let c = m.config.unwrap();
        assert_eq!((c.key_len.get(), c.entry_size.get()), (4, 336));
        assert_eq!(c.hash_mask.get(), 0x0001_ffff);
        assert!(m.stats.is_some());
        let p = m.parms.unwrap();
        assert_eq!((p.ifindex, p.refcnt, p.queue), (None, Some(1), Some(101)));
        assert_eq!((p.base_reachable, p.gc_stale), (Some(30_000), Some(60_000)));
        assert_eq!((p.proxy_delay, p.locktime), (Some(800), Some(1_000)));
        assert_eq!(
            (p.queue_bytes, p.interval_probe),
            (Some(212_992), Some(5_000))
        );

        let n = unhex(KERNEL_DEV, &mut buf);
        let m = NtableMessage::parse(&one(&buf[..n])).unwrap();
        let p = m.parms.unwrap();
        assert_eq!(
            (p.ifindex, p.refcnt, p.ucast_probes),
            (Some(3), Some(2), Some(3))
        );
        assert!(m.stats.is_none() && m.config.is_none() && m.thresh1.is_none());

        // Every truncation (with nlmsg_len patched to match) is an error or a shorter
        // message, never a panic.
        let n = unhex(KERNEL_TABLE, &mut buf);
        for cut in 16..n {
            let mut b = buf;
            b[..4].copy_from_slice(&(cut as u32).to_ne_bytes());
            if let Some(Ok(msg)) = MessageIter::new(&b[..cut]).next() {
                let _ = NtableMessage::parse(&msg);
            }
        }
    }

    #[test]
    fn dump_request() {
        let mut buf = [0u8; 64];
        let n = ntable_dump(&mut buf, 3, AF_INET6).unwrap();
        let msg = one(&buf[..n]);
        assert_eq!(msg.kind(), RTM_GETNEIGHTBL);
        assert_eq!(msg.flags() & NLM_F_DUMP, NLM_F_DUMP);
        assert_eq!(msg.payload(), &[AF_INET6, 0, 0, 0]);
        assert!(NtableMessage::parse(&msg).is_err());
    }
}
