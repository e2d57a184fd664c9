//! `neigh show` vs `ip neigh show` (and `-j`) on a 100,000-entry table, output to
//! /dev/null, side by side; plus the raw dump time (a bare `recv` loop: the kernel's
//! limit) and neigh's checked library dump.
//!
//! Runs in a private network namespace (PERMANENT entries loaded with `ip -batch`, which
//! do not count against gc_thresh3), entered with `setns` so both tools run directly.
//! Needs root; skips with a message otherwise. The `neigh` binary is built (release) on
//! demand, or taken from `$NEIGH_BIN`.
//!
//! After criterion's groups it prints the ratios from an interleaved run (median of 15
//! alternating invocations each), the number benches/README.md quotes.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::Criterion;
use neigh::netlink::{RouteSocket, SocketOptions};
use neigh_core::wire::consts::{AF_UNSPEC, NLMSG_DONE, NLMSG_ERROR};
use neigh_core::wire::request::REQUEST_BUF_LEN;
use neigh_core::wire::{self, DumpFilter, MessageIter};

const ENTRIES: u32 = 100_000;

/// The namespace, deleted on drop.
struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn ip(args: &[&str]) {
    let ok = Command::new("ip")
        .args(args)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "ip {args:?} failed");
}

fn setup() -> Netns {
    let ns = Netns(format!("neigh-bench-show-{}", std::process::id()));
    ip(&["netns", "add", &ns.0]);
    ip(&[
        "-n", &ns.0, "link", "add", "b0", "type", "veth", "peer", "name", "b1",
    ]);
    ip(&["-n", &ns.0, "link", "set", "b0", "up"]);
    ip(&["-n", &ns.0, "link", "set", "b1", "up"]);
    let path = std::env::temp_dir().join(format!("{}.batch", ns.0));
    let mut f = std::io::BufWriter::new(File::create(&path).expect("batch file"));
    for i in 0..ENTRIES {
        let (a, b, c) = ((i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
        writeln!(
            f,
            "neigh add 10.{a}.{b}.{c} lladdr 02:00:00:{a:02x}:{b:02x}:{c:02x} dev b0 nud permanent"
        )
        .expect("write");
    }
    f.flush().expect("flush");
    drop(f);
    let t = Instant::now();
    ip(&["-n", &ns.0, "-batch", path.to_str().expect("path")]);
    let _ = std::fs::remove_file(&path);
    eprintln!("show bench: loaded {ENTRIES} entries in {:?}", t.elapsed());
    // Enter it: children spawned from now on run inside.
    let fd = File::open(format!("/run/netns/{}", ns.0)).expect("open netns");
    // SAFETY: setns on a valid namespace descriptor; this process is single-threaded here.
    let rc = unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
    ns
}

/// `$NEIGH_BIN`, or target/release/neigh next to this bench (built if missing).
fn neigh_bin() -> PathBuf {
    if let Ok(p) = std::env::var("NEIGH_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join("neigh");
    let ok = Command::new(env!("CARGO"))
        .args(["build", "--release", "-q", "-p", "neigh", "--bin", "neigh"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok && bin.exists(), "cannot build {}", bin.display());
    bin
}

fn run(prog: &PathBuf, args: &[&str]) {
    let st = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .expect("spawn");
    assert!(st.success(), "{} {args:?} failed", prog.display());
}

/// A bare dump: send the request, `recv` until NLMSG_DONE, look at nothing but the
/// message types. What any tool must at least wait for.
fn raw_dump(fd: i32, buf: &mut [u8], seq: u32) -> usize {
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

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("show bench SKIPPED: needs root (network namespace with {ENTRIES} neighbors)");
        return;
    }
    let bin = neigh_bin();
    let ip_bin = PathBuf::from("ip");
    let _ns = setup();

    let mut sock = RouteSocket::open(&SocketOptions::default()).expect("socket");
    let mut buf = vec![0u8; 64 << 10];
    let count = raw_dump(sock.as_raw_fd(), &mut buf, sock.next_seq());
    // 100k plus the multicast entries the kernel adds for the veth pair's IPv6 groups.
    assert!(
        (ENTRIES as usize..ENTRIES as usize + 16).contains(&count),
        "table size {count}"
    );

    let mut c = Criterion::default().configure_from_args();
    {
        let mut g = c.benchmark_group("show_100k");
        g.sample_size(10);
        g.bench_function("ip neigh show", |b| {
            b.iter(|| run(&ip_bin, &["neigh", "show"]))
        });
        g.bench_function("neigh show", |b| b.iter(|| run(&bin, &["show"])));
        g.bench_function("ip -j neigh show", |b| {
            b.iter(|| run(&ip_bin, &["-j", "neigh", "show"]))
        });
        g.bench_function("neigh -j show", |b| b.iter(|| run(&bin, &["-j", "show"])));
        g.bench_function("raw dump (bare recv loop)", |b| {
            b.iter(|| raw_dump(sock.as_raw_fd(), &mut buf, sock.next_seq()))
        });
        g.bench_function("neigh library dump (checked, no output)", |b| {
            b.iter(|| {
                let mut req = [0u8; REQUEST_BUF_LEN];
                let seq = sock.next_seq();
                let n = wire::neigh_dump(&mut req, seq, AF_UNSPEC, DumpFilter::default())
                    .expect("build");
                let mut k = 0u32;
                sock.request(&req[..n], |_| {
                    k += 1;
                    Ok(())
                })
                .expect("dump");
                k
            })
        });
        g.finish();
    }
    c.final_summary();

    // Side by side, interleaved, for the ratio.
    let time = |f: &mut dyn FnMut()| {
        let t = Instant::now();
        f();
        t.elapsed()
    };
    let (mut ip_t, mut ne_t, mut ipj_t, mut nej_t, mut raw_t) =
        (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..15 {
        ip_t.push(time(&mut || run(&ip_bin, &["neigh", "show"])));
        ne_t.push(time(&mut || run(&bin, &["show"])));
        ipj_t.push(time(&mut || run(&ip_bin, &["-j", "neigh", "show"])));
        nej_t.push(time(&mut || run(&bin, &["-j", "show"])));
        raw_t.push(time(&mut || {
            raw_dump(sock.as_raw_fd(), &mut buf, sock.next_seq());
        }));
    }
    let (ip_m, ne_m, ipj_m, nej_m, raw_m) = (
        median(ip_t),
        median(ne_t),
        median(ipj_t),
        median(nej_t),
        median(raw_t),
    );
    println!("show bench, {ENTRIES} entries, median of 15 interleaved runs, stdout to /dev/null:");
    println!("  ip neigh show      {ip_m:>10.2?}");
    println!(
        "  neigh show         {ne_m:>10.2?}   ratio {:.2}",
        ne_m.as_secs_f64() / ip_m.as_secs_f64()
    );
    println!("  ip -j neigh show   {ipj_m:>10.2?}");
    println!(
        "  neigh -j show      {nej_m:>10.2?}   ratio {:.2}",
        nej_m.as_secs_f64() / ipj_m.as_secs_f64()
    );
    println!("  raw dump (recv)    {raw_m:>10.2?}   (kernel limit, in-process)");
}
