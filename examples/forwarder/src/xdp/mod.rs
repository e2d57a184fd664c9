//! AF_XDP ports: one UMEM shared by one socket per interface, and the XDP program that
//! steers frames into them.
//!
//! - **UMEM**: `FRAMES_PER_PORT` frames of [`FRAME_SIZE`] bytes per interface, in one
//!   anonymous mapping registered with the first socket; the other sockets share it
//!   (`XDP_SHARED_UMEM`), each with its own fill and completion ring. So a frame
//!   received on one interface is sent out of another as it lies, by moving its
//!   descriptor from one socket's RX ring to the other's TX ring: no copy in user space.
//! - **Frame ownership**: a frame is always in exactly one place: the free list, a fill
//!   ring, the kernel (receiving), an RX ring, the current batch, a TX ring, the kernel
//!   (sending), a completion ring. Completions and dropped frames go back to the free
//!   list, which tops up the fill rings.
//! - **Steering**: per interface an XSKMAP holding its socket at queue 0, and
//!   [`program::redirect_program`] attached with a BPF link, native (driver) mode when
//!   the driver has it, else generic (SKB) mode.
//! - **Queues**: one socket per interface, bound to queue 0; frames arriving on other
//!   queues go to the kernel (the program's fallback verdict). veth has one queue; on a
//!   multi-queue NIC set `ethtool -L IF combined 1`. More queues would take a socket per
//!   queue in the XSKMAP, each with its own rings (and a thread each).
//!
//! Copy mode on veth: the kernel copies each frame into the UMEM on receive and into a
//! socket buffer on send (veth has no zero-copy AF_XDP); the user-space side is the same
//! as with a zero-copy NIC.

pub mod bpf;
pub mod program;
pub mod ring;

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;

use crate::counters::{Counter, Tally};
use crate::pipeline::{Frames, Verdict};
use crate::ports::{cvt, poll_in, setsockopt, Ports};
use ring::Ring;

/// Bytes per UMEM frame (a power of two, at least 2048: room for the kernel's 256-byte
/// XDP headroom and a 1514-byte frame).
pub const FRAME_SIZE: u64 = 2048;
/// UMEM frames per interface.
const FRAMES_PER_PORT: usize = 4096;
/// Entries of each ring (a power of two).
const RING_SIZE: u32 = 2048;

/// How to attach the XDP program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XdpMode {
    /// Native if the driver supports it, else generic.
    Auto,
    /// Native (driver) mode only.
    Native,
    /// Generic (SKB) mode.
    Generic,
}

/// An AF_XDP socket and its four rings.
struct Socket {
    fd: OwnedFd,
    rx: Ring<libc::xdp_desc>,
    tx: Ring<libc::xdp_desc>,
    fill: Ring<u64>,
    comp: Ring<u64>,
}

/// The XDP program steering an interface's frames into its socket.
struct Steering {
    /// Kept open: the program stays attached while the link is open.
    _link: OwnedFd,
    _prog: OwnedFd,
    _map: OwnedFd,
    /// "native" or "generic".
    mode: &'static str,
}

/// The UMEM mapping.
struct Umem {
    base: NonNull<u8>,
    len: usize,
}

impl Drop for Umem {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `XdpPorts::open`; every socket using
        // it is closed first (the sockets are dropped before the UMEM, see field order).
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

/// AF_XDP ports over the interfaces given to [`XdpPorts::open`].
pub struct XdpPorts {
    // Field order is drop order: sockets (and their rings), then their XDP programs,
    // before the UMEM.
    socks: Vec<Socket>,
    /// `steering[i]` steers port `i`'s interface into `socks[i]`.
    steering: Vec<Steering>,
    umem: Umem,
    free: Vec<u64>,
    batch: Vec<libc::xdp_desc>,
}

/// Makes an AF_XDP socket with its four rings (registering the UMEM when `umem` is given;
/// the rings of a socket sharing another's UMEM are the same four).
fn socket(umem: Option<&Umem>) -> io::Result<Socket> {
    // SAFETY: plain socket(2) call.
    let raw = cvt(
        unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) },
        "socket(AF_XDP)",
    )?;
    // SAFETY: `raw` is a new descriptor nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    if let Some(u) = umem {
        let reg = libc::xdp_umem_reg {
            addr: u.base.as_ptr() as u64,
            len: u.len as u64,
            chunk_size: FRAME_SIZE as u32,
            headroom: 0,
            flags: 0,
            tx_metadata_len: 0,
        };
        setsockopt(&fd, libc::SOL_XDP, libc::XDP_UMEM_REG, &reg, "XDP_UMEM_REG")?;
    }
    for (opt, what) in [
        (libc::XDP_UMEM_FILL_RING, "fill ring"),
        (libc::XDP_UMEM_COMPLETION_RING, "completion ring"),
        (libc::XDP_RX_RING, "RX ring"),
        (libc::XDP_TX_RING, "TX ring"),
    ] {
        setsockopt(&fd, libc::SOL_XDP, opt, &RING_SIZE, what)?;
    }
    // SAFETY: all-zero is a valid xdp_mmap_offsets (plain integers).
    let mut off: libc::xdp_mmap_offsets = unsafe { core::mem::zeroed() };
    let mut len = core::mem::size_of::<libc::xdp_mmap_offsets>() as libc::socklen_t;
    // SAFETY: `off` and `len` are valid for writes of the sizes passed.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_XDP,
            libc::XDP_MMAP_OFFSETS,
            (&mut off as *mut libc::xdp_mmap_offsets).cast(),
            &mut len,
        )
    };
    cvt(rc, "XDP_MMAP_OFFSETS")?;
    let fill = Ring::map(
        &fd,
        libc::XDP_UMEM_PGOFF_FILL_RING as libc::off_t,
        &off.fr,
        RING_SIZE,
    )?;
    let comp = Ring::map(
        &fd,
        libc::XDP_UMEM_PGOFF_COMPLETION_RING as libc::off_t,
        &off.cr,
        RING_SIZE,
    )?;
    let rx = Ring::map(&fd, libc::XDP_PGOFF_RX_RING, &off.rx, RING_SIZE)?;
    let tx = Ring::map(&fd, libc::XDP_PGOFF_TX_RING, &off.tx, RING_SIZE)?;
    Ok(Socket {
        fd,
        rx,
        tx,
        fill,
        comp,
    })
}

fn bind(fd: &OwnedFd, ifindex: u32, flags: u16, shared_with: Option<&OwnedFd>) -> io::Result<()> {
    let sa = libc::sockaddr_xdp {
        sxdp_family: libc::AF_XDP as u16,
        sxdp_flags: flags,
        sxdp_ifindex: ifindex,
        sxdp_queue_id: 0,
        sxdp_shared_umem_fd: shared_with.map_or(0, |f| f.as_raw_fd() as u32),
    };
    // The kernel releases a closed socket's hold on its queue a moment after the close
    // (deferred work): a forwarder started right after another exited finds the queue
    // busy for that moment, so retry EBUSY for up to a second.
    let mut tries = 0;
    loop {
        // SAFETY: `sa` is a valid sockaddr_xdp for the whole call and its size is passed.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sa as *const libc::sockaddr_xdp).cast(),
                core::mem::size_of::<libc::sockaddr_xdp>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EBUSY) || tries == 100 {
            return Err(io::Error::new(e.kind(), format!("bind(AF_XDP): {e}")));
        }
        tries += 1;
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Loads and attaches the redirect program for `sock` on `ifindex`.
fn steer(fd: &OwnedFd, ifindex: u32, mode: XdpMode) -> io::Result<Steering> {
    let map =
        bpf::create_xskmap(1).map_err(|e| io::Error::new(e.kind(), format!("XSKMAP: {e}")))?;
    bpf::xskmap_set(&map, 0, fd.as_raw_fd())
        .map_err(|e| io::Error::new(e.kind(), format!("XSKMAP update: {e}")))?;
    let prog = bpf::load_xdp(&program::redirect_program(map.as_raw_fd()), "neigh_fwd")?;
    let native = || bpf::attach_xdp(&prog, ifindex, bpf::XDP_FLAGS_DRV_MODE);
    let generic = || bpf::attach_xdp(&prog, ifindex, bpf::XDP_FLAGS_SKB_MODE);
    let (link, how) = match mode {
        XdpMode::Native => (native()?, "native"),
        XdpMode::Generic => (generic()?, "generic"),
        XdpMode::Auto => match native() {
            Ok(l) => (l, "native"),
            Err(_) => (generic()?, "generic"),
        },
    };
    Ok(Steering {
        _link: link,
        _prog: prog,
        _map: map,
        mode: how,
    })
}

impl XdpPorts {
    /// Opens one AF_XDP socket per interface in `ifindexes` (the pipeline's port
    /// order), shares one UMEM between them, and attaches the redirect program to each.
    ///
    /// Errors: no AF_XDP in the kernel (`EAFNOSUPPORT`), no `CAP_NET_ADMIN`/`CAP_BPF`
    /// (`EPERM`), a program already attached to an interface (`EBUSY`), the verifier's
    /// refusal (with its log).
    pub fn open(ifindexes: &[u32], mode: XdpMode) -> io::Result<Self> {
        let len = FRAMES_PER_PORT * ifindexes.len() * FRAME_SIZE as usize;
        // SAFETY: a fresh private anonymous mapping.
        let p = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let umem = Umem {
            base: NonNull::new(p.cast()).expect("mmap returned non-null"),
            len,
        };
        let mut socks: Vec<Socket> = Vec::new();
        let mut steering = Vec::new();
        for (i, &ifindex) in ifindexes.iter().enumerate() {
            let s = socket((i == 0).then_some(&umem))?;
            match socks.first() {
                None => bind(&s.fd, ifindex, libc::XDP_USE_NEED_WAKEUP, None)?,
                Some(first) => bind(&s.fd, ifindex, libc::XDP_SHARED_UMEM, Some(&first.fd))?,
            }
            steering.push(steer(&s.fd, ifindex, mode)?);
            socks.push(s);
        }
        let free = (0..(len as u64 / FRAME_SIZE))
            .map(|f| f * FRAME_SIZE)
            .collect();
        let mut ports = XdpPorts {
            socks,
            steering,
            umem,
            free,
            batch: Vec::new(),
        };
        for s in 0..ports.socks.len() {
            ports.refill(s);
        }
        Ok(ports)
    }

    /// Tops up port `s`'s fill ring from the free list (it holds enough frames to fill
    /// every port's ring at once, with as many again for frames in flight).
    fn refill(&mut self, s: usize) {
        let sock = &mut self.socks[s];
        let n = (sock.fill.free() as usize).min(self.free.len());
        for _ in 0..n {
            sock.fill.push(self.free.pop().expect("counted"));
        }
        if n > 0 {
            sock.fill.publish();
        }
    }

    /// Takes every port's completed transmissions back into the free list.
    fn reap(&mut self) {
        for sock in &mut self.socks {
            let n = sock.comp.available();
            for _ in 0..n {
                self.free.push(sock.comp.pop() & !(FRAME_SIZE - 1));
            }
            if n > 0 {
                sock.comp.release();
            }
        }
    }

    /// Asks the kernel to send what port `s`'s TX ring holds. In copy mode each call sends
    /// a bounded number of frames and reports `EAGAIN` when some are left, so call again
    /// a few times; `ENOBUFS`/`EBUSY` mean the same for now (completions pending).
    fn kick(&self, s: usize) {
        for _ in 0..8 {
            // SAFETY: sendto with no data and no address: the AF_XDP "send the TX ring"
            // call.
            let rc = unsafe {
                libc::sendto(
                    self.socks[s].fd.as_raw_fd(),
                    core::ptr::null(),
                    0,
                    libc::MSG_DONTWAIT,
                    core::ptr::null(),
                    0,
                )
            };
            if rc >= 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EAGAIN) {
                break;
            }
        }
    }
}

/// The current batch's frames, inside the UMEM.
struct XdpFrames<'a> {
    umem: &'a mut Umem,
    descs: &'a [libc::xdp_desc],
}

impl Frames for XdpFrames<'_> {
    fn count(&self) -> usize {
        self.descs.len()
    }

    fn frame(&mut self, i: usize) -> &mut [u8] {
        let d = &self.descs[i];
        let (addr, len) = (d.addr as usize, d.len as usize);
        assert!(addr + len <= self.umem.len, "descriptor inside the UMEM");
        // SAFETY: the range is inside the UMEM (checked above); the frame came out of an
        // RX ring, so the kernel has handed it over and will not touch it until it is put
        // back on a fill or TX ring, which needs `&mut XdpPorts` (this borrow ends first);
        // `&mut self` makes this the only slice into it.
        unsafe { std::slice::from_raw_parts_mut(self.umem.base.as_ptr().add(addr), len) }
    }
}

impl Ports for XdpPorts {
    fn recv(&mut self, port: usize, max: usize) -> io::Result<usize> {
        self.reap();
        self.refill(port);
        let sock = &mut self.socks[port];
        if sock.fill.needs_wakeup() {
            // SAFETY: recvfrom with no buffer: the AF_XDP "refill" wake-up call.
            unsafe {
                libc::recvfrom(
                    sock.fd.as_raw_fd(),
                    core::ptr::null_mut(),
                    0,
                    libc::MSG_DONTWAIT,
                    core::ptr::null_mut(),
                    core::ptr::null_mut(),
                )
            };
        }
        self.batch.clear();
        let n = (sock.rx.available() as usize).min(max);
        for _ in 0..n {
            self.batch.push(sock.rx.pop());
        }
        if n > 0 {
            sock.rx.release();
        }
        Ok(n)
    }

    fn frames(&mut self) -> impl Frames + '_ {
        XdpFrames {
            umem: &mut self.umem,
            descs: &self.batch,
        }
    }

    fn send(&mut self, verdicts: &[Verdict], tally: &mut Tally) -> io::Result<()> {
        let mut touched = 0u64;
        for (d, v) in self.batch.iter().zip(verdicts) {
            match *v {
                Verdict::Send(q) if self.socks[q].tx.free() > 0 => {
                    let sock = &mut self.socks[q];
                    sock.tx.push(libc::xdp_desc {
                        addr: d.addr,
                        len: d.len,
                        options: 0,
                    });
                    touched |= 1 << q;
                    tally.bump(Counter::Tx);
                }
                Verdict::Send(_) => {
                    tally.bump(Counter::TxFull);
                    self.free.push(d.addr & !(FRAME_SIZE - 1));
                }
                Verdict::Drop => self.free.push(d.addr & !(FRAME_SIZE - 1)),
            }
        }
        self.batch.clear();
        for s in 0..self.socks.len() {
            if touched & (1 << s) != 0 {
                self.socks[s].tx.publish();
            }
            if touched & (1 << s) != 0 || self.socks[s].tx.in_flight() > 0 {
                self.kick(s);
            }
        }
        Ok(())
    }

    fn wait(&mut self, timeout_ms: i32) -> io::Result<()> {
        let fds: Vec<i32> = self.socks.iter().map(|s| s.fd.as_raw_fd()).collect();
        poll_in(&fds, timeout_ms)
    }

    fn kernel_drops(&mut self) -> u64 {
        self.socks
            .iter()
            .map(|s| {
                // SAFETY: all-zero is a valid xdp_statistics (plain integers).
                let mut st: libc::xdp_statistics = unsafe { core::mem::zeroed() };
                let mut len = core::mem::size_of::<libc::xdp_statistics>() as libc::socklen_t;
                // SAFETY: `st` and `len` are valid for writes of the sizes passed.
                let rc = unsafe {
                    libc::getsockopt(
                        s.fd.as_raw_fd(),
                        libc::SOL_XDP,
                        libc::XDP_STATISTICS,
                        (&mut st as *mut libc::xdp_statistics).cast(),
                        &mut len,
                    )
                };
                // Dropped for want of a fill-ring buffer, and for a full RX ring.
                if rc == 0 {
                    st.rx_dropped + st.rx_ring_full
                } else {
                    0
                }
            })
            .sum()
    }

    fn describe(&self) -> String {
        let modes: Vec<_> = self.steering.iter().map(|s| s.mode).collect();
        format!(
            "AF_XDP, shared UMEM of {} frames, XDP program in {} mode",
            self.umem.len as u64 / FRAME_SIZE,
            modes.join("/")
        )
    }
}
