//! A kernel neighbor table of a given size in a throwaway network namespace, the input of
//! the benches that measure against the kernel (parse_dump, show, mirror).

use std::fs::File;
use std::io::Write;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};

use neigh_core::wire::consts::{AF_UNSPEC, NLMSG_DONE, NLMSG_ERROR};
use neigh_core::wire::request::REQUEST_BUF_LEN;
use neigh_core::wire::{self, DumpFilter, MessageIter};

/// The interface the entries are on (its veth peer is `b1`).
pub const DEV: &str = "b0";

/// The address of entry `i`: 10.0.0.1 + i.
pub fn entry_addr(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(0x0a00_0001 + i)
}

/// A namespace `neigh-bench-TAG-PID` holding a veth pair and a neighbor table; deleted on
/// drop.
pub struct KernelTable {
    name: String,
}

impl KernelTable {
    /// Creates the namespace with `b0`/`b1` up (addrgenmode none: the kernel adds no IPv6
    /// entries of its own) and loads `entries` PERMANENT IPv4 entries ([`entry_addr`],
    /// lladdr 02:00:0a:a:b:c) on `b0` with one `ip -batch` (PERMANENT entries do not count
    /// against gc_thresh3). Errors: an `ip` command failed (not root, no netns support).
    pub fn load(tag: &str, entries: u32) -> Result<Self, String> {
        let table = Self {
            name: format!("neigh-bench-{tag}-{}", std::process::id()),
        };
        ip(&["netns", "add", &table.name])?;
        let n = table.name.as_str();
        ip(&[
            "-n", n, "link", "add", DEV, "type", "veth", "peer", "name", "b1",
        ])?;
        for d in [DEV, "b1"] {
            ip(&["-n", n, "link", "set", d, "addrgenmode", "none"])?;
            ip(&["-n", n, "link", "set", d, "up"])?;
        }
        let mut batch = Vec::with_capacity(entries as usize * 80);
        for i in 0..entries {
            let [_, a, b, c] = entry_addr(i).octets();
            writeln!(
                batch,
                "neigh add 10.{a}.{b}.{c} lladdr 02:00:0a:{a:02x}:{b:02x}:{c:02x} dev {DEV} nud permanent"
            )
            .map_err(|e| e.to_string())?;
        }
        let mut child = Command::new("ip")
            .args(["-n", n, "-batch", "-"])
            .stdin(Stdio::piped())
            .spawn()
            .map_err(|e| format!("ip -batch: {e}"))?;
        child
            .stdin
            .take()
            .ok_or("ip -batch: no stdin")?
            .write_all(&batch)
            .map_err(|e| format!("ip -batch: {e}"))?;
        match child.wait() {
            Ok(st) if st.success() => Ok(table),
            Ok(st) => Err(format!("ip -batch: {st}")),
            Err(e) => Err(format!("ip -batch: {e}")),
        }
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Moves the calling thread into the namespace; threads and children it spawns from
    /// then on start there too. Errors: `setns` refused.
    pub fn enter(&self) -> Result<(), String> {
        let path = format!("/run/netns/{}", self.name);
        let fd = File::open(&path).map_err(|e| format!("{path}: {e}"))?;
        // SAFETY: setns on a valid namespace descriptor; it affects the calling thread only.
        if unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(format!("setns: {}", std::io::Error::last_os_error()));
        }
        Ok(())
    }
}

impl Drop for KernelTable {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stderr(Stdio::null())
            .status();
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let st = Command::new("ip")
        .args(args)
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("ip: {e}"))?;
    st.success()
        .then_some(())
        .ok_or_else(|| format!("ip {args:?} failed"))
}

/// A bare dump, the kernel's limit: sends a neighbor dump request on the bound netlink
/// socket `fd`, then one `recv` per datagram into `buf`, walking headers only to find
/// `NLMSG_DONE`; nothing parsed or checked. Returns the message count. Panics on a socket
/// error or a refused dump (a bench, not a library).
pub fn raw_dump(fd: i32, buf: &mut [u8], seq: u32) -> usize {
    let mut req = [0u8; REQUEST_BUF_LEN];
    let n = wire::neigh_dump(&mut req, seq, AF_UNSPEC, DumpFilter::default()).expect("build");
    // SAFETY: `req[..n]` is a valid buffer; fd is a bound netlink socket.
    let sent = unsafe { libc::send(fd, req.as_ptr().cast(), n, 0) };
    assert_eq!(sent, n as isize);
    let mut msgs = 0;
    loop {
        // SAFETY: `buf` is writable for its length.
        let got = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
        assert!(got > 0, "recv: {}", std::io::Error::last_os_error());
        for m in MessageIter::new(&buf[..got as usize]) {
            let m = m.expect("message");
            match m.kind() {
                NLMSG_DONE => return msgs,
                NLMSG_ERROR => panic!("dump refused"),
                _ => msgs += 1,
            }
        }
    }
}

/// The median of `v` (which it sorts): durations, or times in ms. Panics on an empty
/// `v` or a NaN.
pub fn median<T: PartialOrd + Copy>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN among the samples"));
    v[v.len() / 2]
}
