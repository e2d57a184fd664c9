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

use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use criterion::Criterion;
use neigh::netlink::{RouteSocket, SocketOptions};
use neigh_benches::{median, neigh_bin, raw_dump, KernelTable};
use neigh_core::wire::consts::AF_UNSPEC;
use neigh_core::wire::request::REQUEST_BUF_LEN;
use neigh_core::wire::{self, DumpFilter};

const ENTRIES: u32 = 100_000;

fn run(prog: &PathBuf, args: &[&str]) {
    let st = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .expect("spawn");
    assert!(st.success(), "{} {args:?} failed", prog.display());
}

fn main() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("show bench SKIPPED: needs root (network namespace with {ENTRIES} neighbors)");
        return;
    }
    let bin = neigh_bin();
    let ip_bin = PathBuf::from("ip");
    let table = KernelTable::load("show", ENTRIES).expect("load the table");
    // Enter it: children spawned from now on run inside.
    table.enter().expect("enter the namespace");

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
