//! Packets per second through the forwarder on veth: next-hop MACs from the map (one
//! burst lookup per batch) against a constant MAC (no lookup), batches of 32 and 64.
//!
//! `gen —veth— fw —veth— sink` in namespaces made here: a generator thread in `gen`
//! sends 60-byte UDP frames to 1024 destinations in 10.2.0.0/16 with `sendmmsg` on an
//! AF_PACKET socket, as fast as it can; the forwarder in `fw` (AF_XDP, native XDP)
//! routes them out of `eth2`, to next hops that the mirror's map holds (1024 permanent
//! entries, so every batch looks up up to a batch of distinct keys); the sink drops
//! them in its XDP program. The rate is the forwarder's `tx` counter over each run. The
//! two variants alternate, `ROUNDS` runs of `RUN` each. Printed: the medians of the
//! rate and of the forwarder's CPU time per packet, and the lookup's share of that cost,
//! `1 - cpu(constant) / cpu(lookup)`, per pair of adjacent runs (median and range).
//!
//! Run as root: `cargo bench -p neigh-forwarder --bench forward` (prints a skip reason
//! otherwise).

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use neigh::mirror::{Mirror, MirrorConfig};
use neigh::workspace::Workspace;
use neigh_forwarder::counters::{Counter, Counters};
use neigh_forwarder::iface::format_mac;
use neigh_forwarder::xdp::{bpf, program};

const FORWARDER: &str = env!("CARGO_BIN_EXE_forwarder");
const DESTINATIONS: usize = 1024;
const ROUNDS: usize = 7;
const RUN: Duration = Duration::from_secs(3);

fn sh(args: &[&str]) -> String {
    let o = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("run a tool");
    assert!(
        o.status.success(),
        "{}: {}",
        args.join(" "),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

struct Ns(String);

impl Ns {
    fn new(role: &str) -> Self {
        let name = format!("nfwb-{role}-{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        sh(&["ip", "netns", "add", &name]);
        Ns(name)
    }
    fn ip(&self, args: &str) -> String {
        let mut a = vec!["ip", "-n", &self.0];
        a.extend(args.split_whitespace());
        sh(&a)
    }
    fn mac(&self, dev: &str) -> [u8; 6] {
        let out = self.ip(&format!("-j link show dev {dev}"));
        let v: serde_json::Value = serde_json::from_str(&out).expect("json");
        neigh_forwarder::args::parse_mac(v[0]["address"].as_str().expect("address")).expect("mac")
    }
    /// Runs `f` on a new thread inside this namespace.
    fn spawn<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let path = format!("/run/netns/{}", self.0);
        std::thread::spawn(move || {
            let file = File::open(&path).expect("open netns");
            // SAFETY: setns on a valid namespace descriptor; affects this thread only.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

/// A 60-byte Ethernet + IPv4 + UDP frame from 10.1.1.2 to 10.2.(i / 256).(i % 256).
fn frame(src: [u8; 6], dst: [u8; 6], i: usize) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[0..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&46u16.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[10, 1, 1, 2]);
    ip[16..20].copy_from_slice(&[10, 2, (i / 256) as u8, (i % 256) as u8]);
    let mut sum: u32 = ip
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    f[34..36].copy_from_slice(&9u16.to_be_bytes());
    f[36..38].copy_from_slice(&9u16.to_be_bytes());
    f[38..40].copy_from_slice(&26u16.to_be_bytes());
    f
}

/// Sends `frames` round and round on `ifindex` (AF_PACKET, qdisc bypassed) until `stop`.
fn generate(ifindex: i32, frames: Vec<Vec<u8>>, stop: Arc<AtomicBool>) {
    // SAFETY: plain socket(2) call.
    let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
    assert!(raw >= 0, "socket: {}", std::io::Error::last_os_error());
    // SAFETY: `raw` is a new descriptor nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let one = 1i32;
    // SAFETY: `one` is a valid int for the call.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_QDISC_BYPASS,
            (&one as *const i32).cast(),
            4,
        )
    };
    // SAFETY: all-zero is a valid sockaddr_ll.
    let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sa.sll_family = libc::AF_PACKET as u16;
    sa.sll_ifindex = ifindex;
    sa.sll_halen = 6;
    let mut iov: Vec<libc::iovec> = frames
        .iter()
        .map(|f| libc::iovec {
            iov_base: f.as_ptr() as *mut libc::c_void,
            iov_len: f.len(),
        })
        .collect();
    let mut msgs: Vec<libc::mmsghdr> = iov
        .iter_mut()
        .map(|v| {
            // SAFETY: all-zero is a valid mmsghdr.
            let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
            m.msg_hdr.msg_name = (&mut sa as *mut libc::sockaddr_ll).cast();
            m.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_ll>() as u32;
            m.msg_hdr.msg_iov = v;
            m.msg_hdr.msg_iovlen = 1;
            m
        })
        .collect();
    while !stop.load(Ordering::Relaxed) {
        for chunk in msgs.chunks_mut(64) {
            // SAFETY: `chunk` holds valid headers whose address and iovecs point to
            // `sa` and `frames`, alive for the whole call.
            unsafe { libc::sendmmsg(fd.as_raw_fd(), chunk.as_mut_ptr(), chunk.len() as u32, 0) };
        }
    }
}

/// Removes the named shared-memory region when dropped, also when the bench panics.
struct UnlinkOnDrop(String);

impl Drop for UnlinkOnDrop {
    fn drop(&mut self) {
        let _ = Workspace::unlink_shm(&self.0);
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Time the (single-threaded) process `pid` has spent on a CPU, in nanoseconds, user
/// and kernel (`/proc/PID/schedstat`, nanosecond resolution, unlike the tick-based
/// utime/stime).
fn cpu_ns(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/schedstat")).expect("schedstat");
    s.split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .expect("run time")
}

/// What one run measured.
struct Sample {
    /// Packets forwarded per second.
    pps: f64,
    /// The forwarder's CPU time (user + system) per forwarded packet, ns.
    cpu_ns: f64,
    /// Mean frames per receive batch.
    fill: f64,
    /// Share of the frames that reached the forwarder's interface that the kernel
    /// dropped before the forwarder took them (its receive ring was full).
    dropped: f64,
}

/// A running forwarder: stopped (SIGTERM), waited for and its counters removed when
/// dropped, also when the bench panics.
struct Forwarder {
    child: Child,
    counters: String,
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
        let _ = Workspace::unlink_shm(&self.counters);
    }
}

/// One run of the forwarder.
fn run_once(fw: &Ns, args: &[String], counters: &str) -> Sample {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &fw.0, FORWARDER])
        .args(args)
        .args([
            "--counters",
            counters,
            "--io",
            "xdp",
            "--xdp-mode",
            "native",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut fwd = Forwarder {
        child: cmd.spawn().expect("start the forwarder"),
        counters: counters.to_owned(),
    };
    let start = Instant::now();
    let c = loop {
        if let Ok(c) = Counters::open(counters) {
            break c;
        }
        if let Ok(Some(_)) = fwd.child.try_wait() {
            let mut e = String::new();
            if let Some(mut err) = fwd.child.stderr.take() {
                use std::io::Read;
                let _ = err.read_to_string(&mut e);
            }
            panic!("forwarder exited: {e}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "forwarder not ready"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    std::thread::sleep(Duration::from_millis(300));
    let pid = fwd.child.id();
    let (t0, n0, c0) = (Instant::now(), c.get(Counter::Tx), cpu_ns(pid));
    let (r0, b0, d0) = (
        c.get(Counter::Rx),
        c.get(Counter::Batches),
        c.get(Counter::RxDropped),
    );
    std::thread::sleep(RUN);
    let (t1, n1, c1) = (Instant::now(), c.get(Counter::Tx), cpu_ns(pid));
    let (r1, b1, d1) = (
        c.get(Counter::Rx),
        c.get(Counter::Batches),
        c.get(Counter::RxDropped),
    );
    let missed = c.get(Counter::Miss) + c.get(Counter::Unresolved);
    if std::env::var_os("FORWARD_BENCH_VERBOSE").is_some() {
        eprintln!("{c:?}");
    }
    drop(fwd);
    assert_eq!(missed, 0, "every next hop is in the map");
    let sent = (n1 - n0) as f64;
    Sample {
        pps: sent / (t1 - t0).as_secs_f64(),
        cpu_ns: (c1 - c0) / sent,
        fill: (r1 - r0) as f64 / (b1 - b0).max(1) as f64,
        dropped: (d1 - d0) as f64 / ((r1 - r0) + (d1 - d0)).max(1) as f64,
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing we need.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED forward bench: needs root (network namespaces, XDP)");
        return;
    }
    let (gen, fw, sink) = (Ns::new("gen"), Ns::new("fw"), Ns::new("sink"));
    for ns in [&gen, &fw, &sink] {
        ns.ip("link set lo up");
    }
    gen.ip(&format!(
        "link add eth0 type veth peer name eth1 netns {}",
        fw.0
    ));
    sink.ip(&format!(
        "link add eth0 type veth peer name eth2 netns {}",
        fw.0
    ));
    for (ns, dev) in [
        (&gen, "eth0"),
        (&fw, "eth1"),
        (&fw, "eth2"),
        (&sink, "eth0"),
    ] {
        ns.ip(&format!("link set dev {dev} up"));
    }
    sh(&[
        "ip",
        "netns",
        "exec",
        &fw.0,
        "sysctl",
        "-qw",
        "net.ipv4.ip_forward=0",
    ]);
    fw.ip("addr add 10.1.1.1/24 dev eth1");
    fw.ip("addr add 10.2.255.254/16 dev eth2");
    let sink_mac = sink.mac("eth0");
    let fw_mac = fw.mac("eth1");
    let gen_mac = gen.mac("eth0");
    let batch: String = (0..DESTINATIONS)
        .map(|i| {
            format!(
                "neigh add 10.2.{}.{} lladdr {} dev eth2 nud permanent\n",
                i / 256,
                i % 256,
                format_mac(&sink_mac)
            )
        })
        .collect();
    let mut child = Command::new("ip")
        .args(["-n", &fw.0, "-batch", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("ip -batch");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(batch.as_bytes())
        .expect("write batch");
    assert!(child.wait().expect("ip -batch").success());

    // The sink drops everything in XDP, so h2's stack costs nothing.
    let _sink_link = sink
        .spawn(|| {
            let prog = bpf::load_xdp(&program::drop_program(), "sink").expect("load sink");
            let ifindex = neigh_forwarder::iface::port_info("eth0")
                .expect("eth0")
                .ifindex;
            (
                bpf::attach_xdp(&prog, ifindex, bpf::XDP_FLAGS_DRV_MODE).expect("attach sink"),
                prog,
            )
        })
        .join()
        .expect("sink thread");

    let map = format!("nfwb-map-{}", std::process::id());
    let _unlink = UnlinkOnDrop(map.clone());
    let stop_mirror = Arc::new(AtomicBool::new(false));
    let cfg = MirrorConfig {
        map_name: Some(map.clone()),
        capacity: 4 * DESTINATIONS,
        ..Default::default()
    };
    let flag = Arc::clone(&stop_mirror);
    let mirror = fw.spawn(move || {
        let mut m = Mirror::new(cfg).expect("mirror");
        m.run(&flag).expect("mirror runs");
    });
    let region = loop {
        if let Ok(r) = neigh::region::Region::open(&map, neigh::workspace::Access::ReadOnly) {
            if r.reader().map(|r| r.len() >= DESTINATIONS).unwrap_or(false) {
                break r;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    };

    let frames: Vec<Vec<u8>> = (0..DESTINATIONS)
        .map(|i| frame(gen_mac, fw_mac, i))
        .collect();
    let stop_gen = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop_gen);
    let gen_ifindex = gen
        .spawn(|| {
            neigh_forwarder::iface::port_info("eth0")
                .expect("eth0")
                .ifindex
        })
        .join()
        .expect("gen ifindex") as i32;
    let generator = gen.spawn(move || generate(gen_ifindex, frames, flag));

    let counters = format!("nfwb-counters-{}", std::process::id());
    println!(
        "forwarder on veth, AF_XDP native, {DESTINATIONS} next hops, {ROUNDS} alternating runs of {RUN:?}; load before: {}",
        loadavg()
    );
    println!(
        "| batch | pps, lookup | pps, constant MAC | CPU ns/pkt, lookup | CPU ns/pkt, constant | \
         lookup share of CPU/pkt, median of pairs (range) | frames per batch | \
         dropped by the kernel |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for batch in [32usize, 64] {
        // The ports are the routes' interfaces: eth1 receives, eth2 sends.
        let common = [
            "--route".to_owned(),
            "10.2.0.0/16".into(),
            "dev".into(),
            "eth2".into(),
            "--route".into(),
            "10.1.1.0/24".into(),
            "dev".into(),
            "eth1".into(),
            "--batch".into(),
            batch.to_string(),
        ];
        let lookup: Vec<String> = common
            .iter()
            .cloned()
            .chain(["--map".into(), map.clone()])
            .collect();
        let fixed: Vec<String> = common
            .iter()
            .cloned()
            .chain(["--fixed-mac".into(), format_mac(&sink_mac)])
            .collect();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            a.push(run_once(&fw, &lookup, &counters));
            b.push(run_once(&fw, &fixed, &counters));
        }
        let med =
            |v: &[Sample], f: fn(&Sample) -> f64| median(&mut v.iter().map(f).collect::<Vec<_>>());
        for (name, v) in [("lookup", &a), ("constant", &b)] {
            let pps: Vec<String> = v.iter().map(|s| format!("{:.0}", s.pps)).collect();
            let cpu: Vec<String> = v.iter().map(|s| format!("{:.0}", s.cpu_ns)).collect();
            eprintln!("batch {batch} {name}: pps {pps:?}, CPU ns/pkt {cpu:?}");
        }
        let (ca, cb) = (med(&a, |s| s.cpu_ns), med(&b, |s| s.cpu_ns));
        // Each lookup run and the constant run right after it saw about the same load:
        // the median of the pairs' shares is steadier than the share of the medians.
        let mut shares: Vec<f64> = a
            .iter()
            .zip(&b)
            .map(|(x, y)| 1.0 - y.cpu_ns / x.cpu_ns)
            .collect();
        let (lo, hi) = (
            shares.iter().copied().fold(f64::INFINITY, f64::min),
            shares.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        );
        println!(
            "| {batch} | {:.0} | {:.0} | {ca:.0} | {cb:.0} | {:.1}% ({:.1}% to {:.1}%) | {:.1} / {:.1} | {:.1}% / {:.1}% |",
            med(&a, |s| s.pps),
            med(&b, |s| s.pps),
            100.0 * median(&mut shares),
            100.0 * lo,
            100.0 * hi,
            med(&a, |s| s.fill),
            med(&b, |s| s.fill),
            100.0 * med(&a, |s| s.dropped),
            100.0 * med(&b, |s| s.dropped),
        );
    }
    println!("load after: {}", loadavg());
    stop_gen.store(true, Ordering::Relaxed);
    generator.join().expect("generator");
    stop_mirror.store(true, Ordering::Relaxed);
    mirror.join().expect("mirror");
    drop(region);
}
