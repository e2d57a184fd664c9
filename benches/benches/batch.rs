//! `neigh -batch` vs `ip -batch` and `neigh flush` vs `ip neigh flush`, on 100,000
//! PERMANENT IPv4 entries in a private network namespace, side by side.
//!
//! Each round times, in an order that alternates from round to round: `ip -batch` of
//! 100k `neigh add` lines then of 100k `neigh del` lines, the same two files through
//! `neigh -batch`, and a flush of a 100k table (`flush nud all`) by each tool (the table
//! reloaded before each). Every run is a fresh process with stdout to /dev/null; the table
//! is checked after each add and each delete/flush. Prints every round's wall times and
//! CPU times (user + system of the child, from `getrusage`), the ratios (neigh / ip),
//! their medians, and the load average before and after: on a shared machine, read the
//! median of the per-round ratios, and the CPU ratios, which waiting for a CPU does not
//! move.
//!
//! Needs root (skips with a message otherwise). The `neigh` binary is built (release) on
//! demand, or taken from `$NEIGH_BIN`. `NEIGH_BENCH_ROUNDS` sets the rounds (default 5).

use std::fs;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use neigh::netlink::{RouteSocket, SocketOptions};
use neigh_benches::{entry_addr, median, neigh_bin, raw_dump, KernelTable, DEV};

const ENTRIES: u32 = 100_000;

/// The CPU time (user + system) of this process's finished children so far.
fn children_cpu() -> Duration {
    // SAFETY: `ru` is plain data getrusage fills in.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// One run's wall time and CPU time (user + system, its own and the kernel's work on its
/// behalf).
#[derive(Clone, Copy, Default)]
struct Run {
    wall: Duration,
    cpu: Duration,
}

/// Runs `prog args` to completion (stdout to /dev/null), asserting success.
fn timed(prog: &Path, args: &[&str]) -> Run {
    let cpu = children_cpu();
    let t = Instant::now();
    let st = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .expect("spawn");
    let wall = t.elapsed();
    assert!(st.success(), "{} {args:?} failed", prog.display());
    Run {
        wall,
        cpu: children_cpu() - cpu,
    }
}

fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Writes the add and delete batch files for [`ENTRIES`] entries on [`DEV`].
fn write_batches(dir: &Path) -> (PathBuf, PathBuf) {
    let (add, del) = (dir.join("add.batch"), dir.join("del.batch"));
    let mut a = Vec::with_capacity(ENTRIES as usize * 70);
    let mut d = Vec::with_capacity(ENTRIES as usize * 30);
    for i in 0..ENTRIES {
        let ip = entry_addr(i);
        let [_, x, y, z] = ip.octets();
        writeln!(
            a,
            "neigh add {ip} lladdr 02:00:0a:{x:02x}:{y:02x}:{z:02x} dev {DEV} nud permanent"
        )
        .expect("write");
        writeln!(d, "neigh del {ip} dev {DEV}").expect("write");
    }
    fs::write(&add, a).expect("write add batch");
    fs::write(&del, d).expect("write del batch");
    (add, del)
}

fn main() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("batch bench SKIPPED: needs root (network namespace with {ENTRIES} neighbors)");
        return;
    }
    let rounds: usize = std::env::var("NEIGH_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let bin = neigh_bin();
    let ip = PathBuf::from("ip");
    let table = KernelTable::load("batch", 0).expect("make the namespace");
    table.enter().expect("enter the namespace");
    let dir = std::env::temp_dir().join(format!("neigh-bench-batch-{}", std::process::id()));
    fs::create_dir_all(&dir).expect("temp dir");
    let (add, del) = write_batches(&dir);
    let (add, del) = (add.to_str().expect("path"), del.to_str().expect("path"));

    let mut sock = RouteSocket::open(&SocketOptions::default()).expect("socket");
    let mut buf = vec![0u8; 64 << 10];
    // The kernel's own multicast entries for the veth pair come on top of ours.
    let base = raw_dump(sock.as_raw_fd(), &mut buf, sock.next_seq());
    let mut size = || raw_dump(sock.as_raw_fd(), &mut buf, sock.next_seq()) - base;

    let load_before = loadavg();
    let mut rows = Vec::new();
    for round in 0..rounds {
        let mut t = [Run::default(); 6];
        let tools: [(&Path, usize); 2] = [(&ip, 0), (&bin, 1)];
        let order = if round % 2 == 0 {
            tools
        } else {
            [tools[1], tools[0]]
        };
        for (prog, k) in order {
            t[k] = timed(prog, &["-batch", add]);
            assert_eq!(size(), ENTRIES as usize, "after the adds");
            t[2 + k] = timed(prog, &["-batch", del]);
            assert_eq!(size(), 0, "after the deletes");
        }
        for (prog, k) in order {
            timed(&bin, &["-batch", add]);
            assert_eq!(size(), ENTRIES as usize, "before the flush");
            let args: &[&str] = if k == 0 {
                &["neigh", "flush", "nud", "all"]
            } else {
                &["flush", "nud", "all"]
            };
            t[4 + k] = timed(prog, args);
            assert_eq!(size(), 0, "after the flush");
        }
        rows.push(t);
    }
    let load_after = loadavg();
    let _ = fs::remove_dir_all(&dir);

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("batch bench: {ENTRIES} PERMANENT IPv4 entries, {rounds} rounds");
    for (what, pick) in [
        ("wall time, ms", (|r: &Run| r.wall) as fn(&Run) -> Duration),
        ("CPU time (user + system), ms", |r: &Run| r.cpu),
    ] {
        println!("{what}:");
        println!(
            "{:>5} {:>9} {:>9} {:>6} | {:>9} {:>9} {:>6} | {:>9} {:>9} {:>6}",
            "round",
            "ip add",
            "neigh add",
            "ratio",
            "ip del",
            "neigh del",
            "ratio",
            "ip flush",
            "neigh fl.",
            "ratio"
        );
        let mut ratios = [Vec::new(), Vec::new(), Vec::new()];
        for (i, t) in rows.iter().enumerate() {
            let v: Vec<f64> = t.iter().map(|r| ms(pick(r))).collect();
            let r: Vec<f64> = (0..3).map(|k| v[2 * k + 1] / v[2 * k]).collect();
            for k in 0..3 {
                ratios[k].push(r[k]);
            }
            println!(
                "{:>5} {:>9.1} {:>9.1} {:>6.2} | {:>9.1} {:>9.1} {:>6.2} | {:>9.1} {:>9.1} {:>6.2}",
                i + 1,
                v[0],
                v[1],
                r[0],
                v[2],
                v[3],
                r[1],
                v[4],
                v[5],
                r[2]
            );
        }
        let med = |k: usize| median(rows.iter().map(|t| ms(pick(&t[k]))).collect());
        let [ra, rd, rf] = ratios.map(median);
        println!(
            "  med {:>9.1} {:>9.1} {:>6.2} | {:>9.1} {:>9.1} {:>6.2} | {:>9.1} {:>9.1} {:>6.2}",
            med(0),
            med(1),
            ra,
            med(2),
            med(3),
            rd,
            med(4),
            med(5),
            rf
        );
    }
    println!("(ratio medians are of the per-round ratios; targets: add, del <= 0.3, flush <= 0.5)");
    println!(
        "load average before: {load_before}; after: {load_after}; CPUs: {}",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
}
