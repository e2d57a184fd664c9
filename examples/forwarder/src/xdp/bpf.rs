//! The four `bpf(2)` commands the forwarder needs, behind safe functions: create an
//! XSKMAP, put a socket in it, load an XDP program, attach it to an interface with a
//! BPF link.
//!
//! A BPF link (`BPF_LINK_CREATE`, Linux 5.9) rather than netlink's `IFLA_XDP`: the
//! program stays attached exactly as long as the link's descriptor is open, so the
//! forwarder detaches it by exiting, cleanly or not, and never leaves an interface
//! redirecting into a socket that is gone.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_LINK_CREATE: libc::c_long = 28;
const BPF_MAP_TYPE_XSKMAP: u32 = 17;
const BPF_PROG_TYPE_XDP: u32 = 6;
/// `enum bpf_attach_type`'s `BPF_XDP`.
const BPF_XDP: u32 = 37;
/// `XDP_FLAGS_SKB_MODE`: generic XDP, run on the socket buffer (any driver).
pub const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
/// `XDP_FLAGS_DRV_MODE`: native XDP, run by the driver (veth and most NICs).
pub const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;

/// `union bpf_attr`, as bytes: each command fills the fields it uses at their offsets in
/// `linux/bpf.h` and leaves the rest zero, as the kernel requires.
#[repr(C, align(8))]
struct Attr([u8; 128]);

impl Attr {
    fn new() -> Self {
        Attr([0; 128])
    }
    fn u32_at(mut self, off: usize, v: u32) -> Self {
        self.0[off..off + 4].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn u64_at(mut self, off: usize, v: u64) -> Self {
        self.0[off..off + 8].copy_from_slice(&v.to_ne_bytes());
        self
    }
}

/// `bpf(cmd, attr)`, returning a new descriptor (or 0 for commands that return none).
fn bpf(cmd: libc::c_long, attr: &mut Attr) -> io::Result<i32> {
    // SAFETY: `attr` is a valid, writable, 8-aligned `union bpf_attr` image of the size
    // passed; every pointer stored in it (instructions, license, log buffer, key, value)
    // points to memory the caller keeps alive and sized as declared for this call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.0.as_mut_ptr(),
            core::mem::size_of::<Attr>() as libc::c_uint,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc as i32)
    }
}

fn owned(fd: i32) -> OwnedFd {
    // SAFETY: `fd` was just returned by the kernel as a new descriptor that nothing else
    // owns.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Creates an XSKMAP of `entries` slots (index: receive queue, value: an AF_XDP socket).
pub fn create_xskmap(entries: u32) -> io::Result<OwnedFd> {
    let mut attr = Attr::new()
        .u32_at(0, BPF_MAP_TYPE_XSKMAP)
        .u32_at(4, 4)
        .u32_at(8, 4)
        .u32_at(12, entries);
    bpf(BPF_MAP_CREATE, &mut attr).map(owned)
}

/// Puts the socket `xsk_fd` at index `queue` of the XSKMAP `map` (the socket must be
/// bound).
pub fn xskmap_set(map: &OwnedFd, queue: u32, xsk_fd: i32) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let key = queue;
    let value = xsk_fd as u32;
    let mut attr = Attr::new()
        .u32_at(0, map.as_raw_fd() as u32)
        .u64_at(8, &key as *const u32 as u64)
        .u64_at(16, &value as *const u32 as u64);
    bpf(BPF_MAP_UPDATE_ELEM, &mut attr).map(|_| ())
}

/// Loads `insns` as an XDP program (GPL: `bpf_redirect_map` is a GPL-only helper). On a
/// verifier refusal, loads again with the log on and returns the log in the error.
pub fn load_xdp(insns: &[u64], name: &str) -> io::Result<OwnedFd> {
    let license = c"GPL";
    let mut prog_name = [0u8; 16];
    for (d, s) in prog_name.iter_mut().zip(name.bytes().take(15)) {
        *d = s;
    }
    let attr = |log: &mut [u8]| {
        let mut a = Attr::new()
            .u32_at(0, BPF_PROG_TYPE_XDP)
            .u32_at(4, insns.len() as u32)
            .u64_at(8, insns.as_ptr() as u64)
            .u64_at(16, license.as_ptr() as u64)
            .u32_at(68, BPF_XDP);
        a.0[48..64].copy_from_slice(&prog_name);
        if !log.is_empty() {
            a = a
                .u32_at(24, 1)
                .u32_at(28, log.len() as u32)
                .u64_at(32, log.as_mut_ptr() as u64);
        }
        a
    };
    match bpf(BPF_PROG_LOAD, &mut attr(&mut [])) {
        Ok(fd) => Ok(owned(fd)),
        Err(e)
            if e.raw_os_error() == Some(libc::EACCES) || e.raw_os_error() == Some(libc::EINVAL) =>
        {
            let mut log = vec![0u8; 64 * 1024];
            let again = bpf(BPF_PROG_LOAD, &mut attr(&mut log));
            let text = String::from_utf8_lossy(&log);
            let text = text.trim_end_matches('\0').trim();
            match again {
                Ok(fd) => Ok(owned(fd)),
                Err(e2) => Err(io::Error::new(
                    e2.kind(),
                    format!("the verifier refused the XDP program ({e2}): {text}"),
                )),
            }
        }
        Err(e) => Err(e),
    }
}

/// Attaches the XDP program `prog` to interface `ifindex` (`flags`: [`XDP_FLAGS_DRV_MODE`]
/// or [`XDP_FLAGS_SKB_MODE`]); detached when the returned link is closed.
pub fn attach_xdp(prog: &OwnedFd, ifindex: u32, flags: u32) -> io::Result<OwnedFd> {
    use std::os::fd::AsRawFd;
    let mut attr = Attr::new()
        .u32_at(0, prog.as_raw_fd() as u32)
        .u32_at(4, ifindex)
        .u32_at(8, BPF_XDP)
        .u32_at(12, flags);
    bpf(BPF_LINK_CREATE, &mut attr).map(owned)
}
