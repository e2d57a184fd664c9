//! AF_PACKET ports, where AF_XDP is not available: a TPACKET_V3 receive ring per
//! interface, and `sendmmsg(2)` to send a batch in one system call.
//!
//! A TPACKET_V3 ring is a run of blocks the kernel fills with frames and hands over
//! whole (when full, or `RETIRE_MS` after its first frame); the forwarder walks a block's
//! frames batch by batch, rewriting them in place, and gives the block back once the last
//! of its frames is sent (`sendmmsg` copies them, so that is right after the send).
//!
//! Unlike AF_XDP, an AF_PACKET socket taps the interface: the kernel gets every frame as
//! well. The kernel keeps resolving neighbors on its own copy of ARP and NDP, and must not
//! forward IP itself (`net.ipv4.ip_forward=0`, `net.ipv6.conf.all.forwarding=0` on the
//! forwarder's host), or each packet leaves twice. Frames this socket sends itself are
//! not received again (`PACKET_IGNORE_OUTGOING`), and sends skip the qdisc
//! (`PACKET_QDISC_BYPASS`), as a data plane owning its interfaces would.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::counters::{Counter, Tally};
use crate::pipeline::{Frames, Verdict};
use crate::ports::{cvt, poll_in, setsockopt, Ports};

/// Bytes per block (a multiple of the page size).
const BLOCK_SIZE: usize = 1 << 18;
/// Blocks per ring.
const BLOCKS: usize = 64;
/// A block holding at least one frame is handed over after this many milliseconds.
const RETIRE_MS: u32 = 1;

// Offsets in `struct tpacket_block_desc` (the block header) and `struct tpacket3_hdr`
// (each frame's header), from linux/if_packet.h.
const BLOCK_STATUS: usize = 8;
const BLOCK_NUM_PKTS: usize = 12;
const BLOCK_FIRST_PKT: usize = 16;
const PKT_NEXT: usize = 0;
const PKT_SNAPLEN: usize = 12;
const PKT_MAC: usize = 24;

/// One interface's socket and ring, and where the reader is in it.
struct PacketPort {
    fd: OwnedFd,
    ring: NonNull<u8>,
    /// The block being read.
    block: usize,
    /// Frames of that block already taken, and the offset of the next one.
    taken: u32,
    next: usize,
}

impl Drop for PacketPort {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the ring mapped in `open_port`; nothing borrows it past
        // `self`.
        unsafe { libc::munmap(self.ring.as_ptr().cast(), BLOCK_SIZE * BLOCKS) };
    }
}

impl PacketPort {
    fn block_ptr(&self, b: usize) -> *mut u8 {
        self.ring.as_ptr().wrapping_add(b * BLOCK_SIZE)
    }

    fn status(&self, b: usize) -> &AtomicU32 {
        // SAFETY: the block header's status word is a 4-aligned u32 inside the mapping,
        // shared with the kernel, which reads and writes it with barriers around it.
        unsafe { AtomicU32::from_ptr(self.block_ptr(b).wrapping_add(BLOCK_STATUS).cast()) }
    }

    /// The header field (`u16` or `u32`, native-endian) at `p`, a pointer into this
    /// ring's blocks.
    fn field<T: Copy>(&self, p: *const u8) -> T {
        let start = self.ring.as_ptr() as usize;
        let at = p as usize;
        let end = at + core::mem::size_of::<T>();
        assert!(
            at >= start && end <= start + BLOCK_SIZE * BLOCKS,
            "inside the ring"
        );
        // SAFETY: inside the mapping (checked above); callers read only blocks the
        // kernel has handed over (TP_STATUS_USER seen with Acquire), which it does not
        // write until they are given back; `T` is a plain integer.
        unsafe { p.cast::<T>().read_unaligned() }
    }
}

/// A frame of the current batch: where it lies in its port's ring.
#[derive(Clone, Copy)]
struct Slot {
    off: usize,
    len: usize,
}

/// AF_PACKET ports over the interfaces given to [`PacketPorts::open`].
pub struct PacketPorts {
    ports: Vec<PacketPort>,
    batch: Vec<Slot>,
    batch_port: usize,
    /// Frames the kernel dropped so far (its statistics reset on each read).
    drops: u64,
    /// Blocks of the batch's port to give back once the batch is sent.
    done_blocks: Vec<usize>,
    iov: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
}

fn open_port(ifindex: u32) -> io::Result<PacketPort> {
    let proto = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: plain socket(2) call.
    let raw = cvt(
        unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                i32::from(proto),
            )
        },
        "socket(AF_PACKET)",
    )?;
    // SAFETY: `raw` is a new descriptor nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    setsockopt(
        &fd,
        libc::SOL_PACKET,
        libc::PACKET_VERSION,
        &(libc::tpacket_versions::TPACKET_V3 as libc::c_int),
        "TPACKET_V3",
    )?;
    let req = libc::tpacket_req3 {
        tp_block_size: BLOCK_SIZE as u32,
        tp_block_nr: BLOCKS as u32,
        tp_frame_size: 2048,
        tp_frame_nr: (BLOCK_SIZE * BLOCKS / 2048) as u32,
        tp_retire_blk_tov: RETIRE_MS,
        tp_sizeof_priv: 0,
        tp_feature_req_word: 0,
    };
    setsockopt(
        &fd,
        libc::SOL_PACKET,
        libc::PACKET_RX_RING,
        &req,
        "PACKET_RX_RING",
    )?;
    setsockopt(
        &fd,
        libc::SOL_PACKET,
        libc::PACKET_IGNORE_OUTGOING,
        &1i32,
        "PACKET_IGNORE_OUTGOING",
    )?;
    setsockopt(
        &fd,
        libc::SOL_PACKET,
        libc::PACKET_QDISC_BYPASS,
        &1i32,
        "PACKET_QDISC_BYPASS",
    )?;
    // SAFETY: a fresh shared mapping of the socket's ring, of the size just configured.
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            BLOCK_SIZE * BLOCKS,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_POPULATE,
            fd.as_raw_fd(),
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    let port = PacketPort {
        fd,
        ring: NonNull::new(p.cast()).expect("mmap returned non-null"),
        block: 0,
        taken: 0,
        next: 0,
    };
    // SAFETY: all-zero is a valid sockaddr_ll (plain integers).
    let mut sa: libc::sockaddr_ll = unsafe { core::mem::zeroed() };
    sa.sll_family = libc::AF_PACKET as u16;
    sa.sll_protocol = proto;
    sa.sll_ifindex = ifindex as i32;
    // SAFETY: `sa` is a valid sockaddr_ll for the whole call and its size is passed.
    let rc = unsafe {
        libc::bind(
            port.fd.as_raw_fd(),
            (&sa as *const libc::sockaddr_ll).cast(),
            core::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    cvt(rc, "bind(AF_PACKET)")?;
    Ok(port)
}

impl PacketPorts {
    /// Opens one AF_PACKET socket with a TPACKET_V3 ring per interface in `ifindexes`
    /// (the pipeline's port order), for batches of up to `batch` frames.
    ///
    /// Errors: no `CAP_NET_RAW` (`EPERM`), a kernel without TPACKET_V3 (`EINVAL`).
    pub fn open(ifindexes: &[u32], batch: usize) -> io::Result<Self> {
        let ports = ifindexes
            .iter()
            .map(|&i| open_port(i))
            .collect::<io::Result<Vec<_>>>()?;
        Ok(PacketPorts {
            ports,
            batch: Vec::with_capacity(batch),
            batch_port: 0,
            drops: 0,
            done_blocks: Vec::with_capacity(BLOCKS),
            iov: Vec::with_capacity(batch),
            msgs: Vec::with_capacity(batch),
        })
    }
}

/// The current batch's frames, inside one port's ring.
struct PacketFrames<'a> {
    port: &'a mut PacketPort,
    slots: &'a [Slot],
}

impl Frames for PacketFrames<'_> {
    fn count(&self) -> usize {
        self.slots.len()
    }

    fn frame(&mut self, i: usize) -> &mut [u8] {
        let s = self.slots[i];
        assert!(
            s.off + s.len <= BLOCK_SIZE * BLOCKS,
            "frame inside the ring"
        );
        // SAFETY: the frame lies inside a block the kernel handed over (see `recv`) and
        // does not write until it is given back in `send`, after this borrow ends;
        // `&mut self` makes this the only slice into it.
        unsafe { std::slice::from_raw_parts_mut(self.port.ring.as_ptr().add(s.off), s.len) }
    }
}

impl Ports for PacketPorts {
    fn recv(&mut self, port: usize, max: usize) -> io::Result<usize> {
        self.batch.clear();
        self.done_blocks.clear();
        self.batch_port = port;
        let p = &mut self.ports[port];
        while self.batch.len() < max {
            let b = p.block;
            if p.status(b).load(Ordering::Acquire) & libc::TP_STATUS_USER == 0 {
                break;
            }
            let base = p.block_ptr(b);
            let num: u32 = p.field(base.wrapping_add(BLOCK_NUM_PKTS));
            if p.taken == 0 {
                p.next = p.field::<u32>(base.wrapping_add(BLOCK_FIRST_PKT)) as usize;
            }
            while p.taken < num && self.batch.len() < max {
                let h = base.wrapping_add(p.next);
                let mac: u16 = p.field(h.wrapping_add(PKT_MAC));
                let len = p.field::<u32>(h.wrapping_add(PKT_SNAPLEN)) as usize;
                self.batch.push(Slot {
                    off: b * BLOCK_SIZE + p.next + usize::from(mac),
                    len,
                });
                p.next += p.field::<u32>(h.wrapping_add(PKT_NEXT)) as usize;
                p.taken += 1;
            }
            if p.taken == num {
                self.done_blocks.push(b);
                p.block = (b + 1) % BLOCKS;
                p.taken = 0;
            }
        }
        Ok(self.batch.len())
    }

    fn frames(&mut self) -> impl Frames + '_ {
        PacketFrames {
            port: &mut self.ports[self.batch_port],
            slots: &self.batch,
        }
    }

    fn send(&mut self, verdicts: &[Verdict], tally: &mut Tally) -> io::Result<()> {
        let rx = &self.ports[self.batch_port];
        for q in 0..self.ports.len() {
            self.iov.clear();
            for (s, v) in self.batch.iter().zip(verdicts) {
                if *v == Verdict::Send(q) {
                    self.iov.push(libc::iovec {
                        iov_base: rx.ring.as_ptr().wrapping_add(s.off).cast(),
                        iov_len: s.len,
                    });
                }
            }
            if self.iov.is_empty() {
                continue;
            }
            self.msgs.clear();
            for iov in &mut self.iov {
                // SAFETY: all-zero is a valid msghdr (null pointers, zero lengths).
                let mut m: libc::mmsghdr = unsafe { core::mem::zeroed() };
                m.msg_hdr.msg_iov = iov;
                m.msg_hdr.msg_iovlen = 1;
                self.msgs.push(m);
            }
            // SAFETY: `msgs` holds `msgs.len()` valid headers whose iovecs point into the
            // ring's mapping (alive, frames handed over by the kernel) for the whole call.
            let sent = unsafe {
                libc::sendmmsg(
                    self.ports[q].fd.as_raw_fd(),
                    self.msgs.as_mut_ptr(),
                    self.msgs.len() as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            };
            let sent = usize::try_from(sent).unwrap_or(0);
            tally.bump_by(Counter::Tx, sent as u64);
            tally.bump_by(Counter::TxFull, (self.msgs.len() - sent) as u64);
        }
        let rx = &self.ports[self.batch_port];
        for &b in &self.done_blocks {
            rx.status(b)
                .store(libc::TP_STATUS_KERNEL, Ordering::Release);
        }
        self.done_blocks.clear();
        self.batch.clear();
        Ok(())
    }

    fn wait(&mut self, timeout_ms: i32) -> io::Result<()> {
        let fds: Vec<i32> = self.ports.iter().map(|p| p.fd.as_raw_fd()).collect();
        poll_in(&fds, timeout_ms)
    }

    fn kernel_drops(&mut self) -> u64 {
        for p in &self.ports {
            // SAFETY: all-zero is a valid tpacket_stats_v3 (plain integers).
            let mut st: libc::tpacket_stats_v3 = unsafe { core::mem::zeroed() };
            let mut len = core::mem::size_of::<libc::tpacket_stats_v3>() as libc::socklen_t;
            // SAFETY: `st` and `len` are valid for writes of the sizes passed.
            let rc = unsafe {
                libc::getsockopt(
                    p.fd.as_raw_fd(),
                    libc::SOL_PACKET,
                    libc::PACKET_STATISTICS,
                    (&mut st as *mut libc::tpacket_stats_v3).cast(),
                    &mut len,
                )
            };
            if rc == 0 {
                self.drops += u64::from(st.tp_drops);
            }
        }
        self.drops
    }

    fn describe(&self) -> String {
        format!(
            "AF_PACKET, TPACKET_V3 receive rings of {BLOCKS} x {} KiB blocks, sendmmsg",
            BLOCK_SIZE / 1024
        )
    }
}
