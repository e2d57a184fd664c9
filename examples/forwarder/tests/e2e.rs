//! End to end, in network namespaces this test makes: `h1 —veth— fw —veth— h2`, the
//! mirror and the forwarder in `fw`, the kernel of `fw` not forwarding, no static
//! neighbor entries anywhere. For AF_XDP (the XDP program in native and in generic
//! mode) and for AF_PACKET, for IPv4 and for IPv6:
//!
//! 1. h1's first ping to h2 is lost: the forwarder misses h2 in the map and posts a
//!    request (its counters say so);
//! 2. the mirror has the kernel resolve h2, the map learns h2's MAC, and pings then go
//!    through with 0 loss, counted by the forwarder; a ping with TTL 1 expires in the
//!    forwarder (counted, not forwarded);
//! 3. h2 changes its MAC (announced by a gratuitous ARP / unsolicited NA): the map holds
//!    the new MAC within a second, and pings go through without a miss (h2 drops frames
//!    sent to its old MAC);
//! 4. the neighbor is deleted in `fw`: the next ping misses again, the forwarder asks
//!    again, and pings go through again.
//!
//! And once (AF_PACKET, IPv4), the mirror restarting with another capacity, which
//! replaces its region and marks the old one superseded: the running forwarder joins the
//! name again within seconds, says so once, and takes MACs from the new region and asks
//! the new mirror for what it misses.
//!
//! Needs root (namespaces, XDP); skipped with a message otherwise, unless
//! `NEIGH_REQUIRE_NETNS=1`, which makes that a failure.

use std::fs::File;
use std::io::Read;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use neigh::mirror::{Mirror, MirrorConfig, MirrorStats, Region, ResolveConfig, StatWord};
use neigh::workspace::{Access, Workspace};
use neigh_core::{Mac, NeighKey};
use neigh_forwarder::counters::{Counter, Counters};

const FORWARDER: &str = env!("CARGO_BIN_EXE_forwarder");

/// A network namespace made for this test, deleted on drop (also when a test panics).
struct Netns {
    name: String,
}

impl Netns {
    fn new(name: String) -> Self {
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        let ns = Netns { name };
        run("ip", &["netns", "add", &ns.name]);
        ns.ip("link set lo up");
        ns
    }

    /// `ip -n NS ARGS` (split on whitespace), asserting success; returns stdout.
    fn ip(&self, args: &str) -> String {
        let mut a = vec!["-n", &self.name];
        a.extend(args.split_whitespace());
        run("ip", &a)
    }

    fn sysctl(&self, setting: &str) {
        run(
            "ip",
            &["netns", "exec", &self.name, "sysctl", "-qw", setting],
        );
    }

    /// `ip netns exec NS PROG ARGS...`.
    fn command(&self, prog: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, prog]);
        c
    }

    fn mac(&self, dev: &str) -> Mac {
        let out = self.ip(&format!("-j link show dev {dev}"));
        let v: serde_json::Value = serde_json::from_str(&out).expect("ip -j link json");
        neigh_forwarder::args::parse_mac(v[0]["address"].as_str().expect("address")).expect("a MAC")
    }

    fn ifindex(&self, dev: &str) -> u32 {
        let out = self.ip(&format!("-j link show dev {dev}"));
        let v: serde_json::Value = serde_json::from_str(&out).expect("ip -j link json");
        v[0]["ifindex"].as_u64().expect("ifindex") as u32
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

fn run(prog: &str, args: &[&str]) -> String {
    let o = Command::new(prog).args(args).output().expect("run a tool");
    assert!(
        o.status.success(),
        "{prog} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Whether kernel tests can run here; panics instead of skipping under
/// `NEIGH_REQUIRE_NETNS=1`.
fn can_run(test: &str) -> bool {
    let why = if unsafe_geteuid() != 0 {
        Some("needs root for network namespaces and XDP".to_owned())
    } else {
        ["ip", "ping"]
            .iter()
            .find(|t| Command::new(t).arg("-V").output().is_err())
            .map(|t| format!("needs `{t}` (iproute2, iputils-ping)"))
    };
    let Some(why) = why else { return true };
    if std::env::var("NEIGH_REQUIRE_NETNS").is_ok_and(|v| v == "1") {
        panic!("{test}: cannot run ({why}) and NEIGH_REQUIRE_NETNS=1");
    }
    eprintln!("SKIPPED {test}: {why} (set NEIGH_REQUIRE_NETNS=1 to make this fatal)");
    false
}

fn unsafe_geteuid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}

/// The three namespaces, addressed, with default routes on the hosts through `fw`.
struct Topology {
    h1: Netns,
    fw: Netns,
    h2: Netns,
}

const H2_V4: &str = "10.1.2.2";
const H2_V6: &str = "2001:db8:2::2";

impl Topology {
    fn new(tag: &str) -> Self {
        let name = |role: &str| format!("nfw-{tag}-{role}-{}", std::process::id());
        let t = Topology {
            h1: Netns::new(name("h1")),
            fw: Netns::new(name("fw")),
            h2: Netns::new(name("h2")),
        };
        for ns in [&t.h1, &t.fw, &t.h2] {
            ns.sysctl("net.ipv6.conf.all.accept_dad=0");
            ns.sysctl("net.ipv6.conf.default.accept_dad=0");
        }
        // Only the forwarder forwards.
        t.fw.sysctl("net.ipv4.ip_forward=0");
        t.fw.sysctl("net.ipv6.conf.all.forwarding=0");
        t.h1.ip(&format!(
            "link add eth0 type veth peer name eth1 netns {}",
            t.fw.name
        ));
        t.h2.ip(&format!(
            "link add eth0 type veth peer name eth2 netns {}",
            t.fw.name
        ));
        // h2 announces a new MAC (gratuitous ARP, unsolicited NA) when it changes.
        t.h2.sysctl("net.ipv4.conf.all.arp_notify=1");
        t.h2.sysctl("net.ipv6.conf.all.ndisc_notify=1");
        t.h2.sysctl("net.ipv6.conf.eth0.ndisc_notify=1");
        t.h2.sysctl("net.ipv4.conf.eth0.arp_notify=1");
        for (ns, dev, v4, v6) in [
            (&t.h1, "eth0", "10.1.1.2/24", "2001:db8:1::2/64"),
            (&t.fw, "eth1", "10.1.1.1/24", "2001:db8:1::1/64"),
            (&t.fw, "eth2", "10.1.2.1/24", "2001:db8:2::1/64"),
            (&t.h2, "eth0", "10.1.2.2/24", "2001:db8:2::2/64"),
        ] {
            ns.ip(&format!("addr add {v4} dev {dev}"));
            ns.ip(&format!("addr add {v6} dev {dev} nodad"));
            ns.ip(&format!("link set dev {dev} up"));
        }
        t.h1.ip("route add default via 10.1.1.1");
        t.h1.ip("-6 route add default via 2001:db8:1::1");
        t.h2.ip("route add default via 10.1.2.1");
        t.h2.ip("-6 route add default via 2001:db8:2::1");
        t
    }
}

/// The mirror, on a thread inside `fw`; stopped and its map removed on drop.
struct RunningMirror {
    name: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    remove_map: bool,
}

impl RunningMirror {
    /// Starts a mirror of the map `name` for `capacity` entries.
    fn start(ns: &Netns, name: &str, capacity: usize) -> Self {
        let cfg = MirrorConfig {
            map_name: Some(name.to_owned()),
            capacity,
            resolve: ResolveConfig {
                ring_cells: 256,
                hold_down: Duration::from_millis(200),
                ..Default::default()
            },
            ..Default::default()
        };
        let path = format!("/run/netns/{}", ns.name);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let file = File::open(&path).expect("open netns");
            // SAFETY: setns on a valid namespace descriptor; affects this thread only.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            let mut m = match Mirror::new(cfg) {
                Ok(m) => m,
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                    return;
                }
            };
            let _ = tx.send(Ok(()));
            m.run(&flag).expect("mirror runs until stopped");
        });
        rx.recv_timeout(Duration::from_secs(30))
            .expect("mirror thread answered")
            .expect("mirror started");
        RunningMirror {
            name: name.to_owned(),
            stop,
            thread: Some(thread),
            remove_map: true,
        }
    }

    /// Stops the mirror and leaves its map where it is, as `neigh mirror` does when it
    /// exits: the next mirror of the name finds it.
    fn stop_keeping_map(mut self) {
        self.remove_map = false;
    }
}

impl Drop for RunningMirror {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if self.remove_map {
            let _ = Workspace::unlink_shm(&self.name);
        }
    }
}

/// The forwarder process inside `fw`; stopped with SIGTERM on drop.
struct RunningForwarder {
    child: Child,
    counters: String,
}

impl RunningForwarder {
    fn start(ns: &Netns, map: &str, counters: &str, io: &[&str]) -> Self {
        let mut cmd = ns.command(FORWARDER);
        cmd.args(["--map", map, "--counters", counters]).args(io);
        for r in [
            "10.1.2.0/24 dev eth2",
            "10.1.1.0/24 dev eth1",
            "2001:db8:2::/64 dev eth2",
            "2001:db8:1::/64 dev eth1",
        ] {
            cmd.arg("--route").args(r.split_whitespace());
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the forwarder");
        let mut f = RunningForwarder {
            child,
            counters: counters.to_owned(),
        };
        // The counters appear once the ports are open and the programs attached.
        let start = Instant::now();
        while Counters::open(counters).is_err() {
            if let Ok(Some(_)) | Err(_) = f.child.try_wait() {
                panic!("forwarder exited at start: {}", f.stderr());
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "forwarder never ready"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        f
    }

    fn counters(&self) -> Counters {
        Counters::open(&self.counters).expect("forwarder counters")
    }

    fn stderr(&mut self) -> String {
        let mut s = String::new();
        if let Some(e) = self.child.stderr.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    }

    /// SIGTERM, then the exit status and stderr.
    fn stop(&mut self) -> (std::process::ExitStatus, String) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait().expect("wait for the forwarder");
        (status, self.stderr())
    }
}

impl Drop for RunningForwarder {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
            let _ = self.child.wait();
        }
        let _ = Workspace::unlink_shm(&self.counters);
    }
}

/// One ping from `ns`, waiting 0.5 s for the reply: true when it came.
fn ping_once(ns: &Netns, dst: &str) -> bool {
    ping_with(ns, dst, &["-c", "1", "-W", "0.5"]) == 1
}

/// `count` pings from `ns`, one after the other, each waiting up to 2 s for its reply;
/// returns the replies received. One ping per process: ping's `-W` applies only while no
/// reply has come, and afterwards it gives a reply two round trips, so with many pings
/// per process a reply that a loaded machine delays by a few milliseconds would count as
/// lost; that is delay, not loss.
fn ping_all(ns: &Netns, dst: &str, count: u32) -> u32 {
    (0..count)
        .map(|_| ping_with(ns, dst, &["-c", "1", "-W", "2"]))
        .sum()
}

/// `ping -n -q ARGS DST` from `ns`; returns the replies received.
fn ping_with(ns: &Netns, dst: &str, args: &[&str]) -> u32 {
    let out = ns
        .command("ping")
        .args(["-n", "-q"])
        .args(args)
        .arg(dst)
        .output()
        .expect("run ping");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| {
            let (_, rest) = l.split_once(" packets transmitted, ")?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no ping summary in {text:?}"))
}

/// Counter values at one moment, to compare with later.
struct Snapshot(Vec<(Counter, u64)>);

impl Snapshot {
    fn of(c: &Counters) -> Self {
        Snapshot(c.read())
    }

    /// How much `k` grew since this snapshot.
    fn delta(&self, c: &Counters, k: Counter) -> u64 {
        let then = self.0.iter().find(|(x, _)| *x == k).expect("counter").1;
        c.get(k) - then
    }

    /// Waits (up to 2 s) until `k` grew by at least `n` since this snapshot. The
    /// forwarder adds a batch's counts right after sending the batch, so a ping's reply
    /// can be seen a moment before the counts that go with it.
    fn wait(&self, c: &Counters, k: Counter, n: u64, what: &str) {
        let start = Instant::now();
        while self.delta(c, k) < n {
            assert!(
                start.elapsed() < Duration::from_secs(2),
                "{what}: {} grew by {}, not {n}; {c:?}",
                k.name(),
                self.delta(c, k)
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// The map's entry for `key`, if any (None also for unresolved).
fn map_mac(region: &Region, key: &NeighKey) -> Option<Mac> {
    let r = region.reader().expect("reader");
    r.get(key).ok().flatten().and_then(|e| e.mac())
}

fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < timeout, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
    start.elapsed()
}

/// Steps 1-4 of the module docs for one address of h2.
fn round(t: &Topology, fwd: &RunningForwarder, region: &Region, dst: &str, new_mac: &str) {
    let c = fwd.counters();
    let key = NeighKey {
        ifindex: t.fw.ifindex("eth2"),
        addr: dst.parse::<IpAddr>().expect("address"),
    };
    let fam = if key.addr.is_ipv4() { "IPv4" } else { "IPv6" };
    let mirror_served =
        || MirrorStats::read(&region.reader().expect("reader")).get(StatWord::RequestsServed);

    // 1. The first ping misses.
    assert_eq!(map_mac(region, &key), None, "{fam}: h2 not in the map yet");
    let s = Snapshot::of(&c);
    let served = mirror_served();
    assert!(!ping_once(&t.h1, dst), "{fam}: first ping must miss");
    s.wait(&c, Counter::Miss, 1, &format!("{fam}: miss counted"));
    s.wait(
        &c,
        Counter::RequestsPosted,
        1,
        &format!("{fam}: request posted"),
    );

    // 2. The kernel resolves, the map learns, pings go through.
    wait_for(
        &format!("{fam}: map learns h2"),
        Duration::from_secs(5),
        || map_mac(region, &key) == Some(t.h2.mac("eth0")),
    );
    assert!(
        mirror_served() > served,
        "{fam}: the mirror asked the kernel"
    );
    let out = t.fw.ip(&format!("neigh show {dst} dev eth2"));
    let h2_mac = neigh_forwarder::iface::format_mac(&t.h2.mac("eth0"));
    assert!(
        out.contains(&h2_mac) && !out.contains("PERMANENT"),
        "{fam}: the kernel resolved h2 (no static entry): {out}"
    );
    // The reverse path (h2 to h1) may miss once too before h1 is in the map.
    let mut tries = 0;
    while !ping_once(&t.h1, dst) {
        tries += 1;
        assert!(tries < 5, "{fam}: pings never went through");
    }
    let s = Snapshot::of(&c);
    assert_eq!(ping_all(&t.h1, dst, 20), 20, "{fam}: 0 loss; {c:?}");
    s.wait(
        &c,
        Counter::Tx,
        40,
        &format!("{fam}: requests and replies both through the forwarder"),
    );
    assert_eq!(
        s.delta(&c, Counter::Miss),
        0,
        "{fam}: no miss once resolved"
    );
    // A packet that arrives with TTL / hop limit 1 expires here.
    let s = Snapshot::of(&c);
    assert_eq!(
        ping_with(&t.h1, dst, &["-c", "1", "-W", "0.3", "-t", "1"]),
        0
    );
    s.wait(
        &c,
        Counter::TtlExpired,
        1,
        &format!("{fam}: TTL expiry counted"),
    );
    assert_eq!(s.delta(&c, Counter::TtlExpired), 1, "{fam}: one expired");

    // 3. h2's MAC changes; the map follows within a second.
    let mac = neigh_forwarder::args::parse_mac(new_mac).expect("mac");
    t.h2.ip(&format!("link set dev eth0 address {new_mac}"));
    let took = wait_for(
        &format!("{fam}: map follows the new MAC"),
        Duration::from_secs(1),
        || map_mac(region, &key) == Some(mac),
    );
    eprintln!("{fam}: the map had the new MAC after {took:?}");
    // (h2 flushed its own neighbor cache with the new address and resolves its gateway
    // again: the first reply is late, not lost.)
    let s = Snapshot::of(&c);
    assert_eq!(
        ping_all(&t.h1, dst, 10),
        10,
        "{fam}: 0 loss after the MAC change; {c:?}"
    );
    assert_eq!(
        s.delta(&c, Counter::Miss),
        0,
        "{fam}: no miss on a MAC change"
    );
    s.wait(
        &c,
        Counter::Tx,
        20,
        &format!("{fam}: forwarded to the new MAC"),
    );

    // 4. The neighbor is deleted: the forwarder asks again.
    t.fw.ip(&format!("neigh del {dst} dev eth2"));
    wait_for(
        &format!("{fam}: map drops h2"),
        Duration::from_secs(2),
        || map_mac(region, &key).is_none(),
    );
    let s = Snapshot::of(&c);
    assert!(!ping_once(&t.h1, dst), "{fam}: ping after delete misses");
    s.wait(&c, Counter::Miss, 1, &format!("{fam}: missed again"));
    s.wait(
        &c,
        Counter::RequestsPosted,
        1,
        &format!("{fam}: asked again"),
    );
    wait_for(
        &format!("{fam}: map learns h2 again"),
        Duration::from_secs(5),
        || map_mac(region, &key) == Some(mac),
    );
    assert_eq!(ping_all(&t.h1, dst, 10), 10, "{fam}: 0 loss again; {c:?}");
}

/// The whole test with the forwarder's I/O chosen by `io` (its options); `expect`: what
/// its start-up line must say it runs on.
fn scenario(test: &str, tag: &str, io: &[&str], expect: &str) {
    if !can_run(test) {
        return;
    }
    let t = Topology::new(tag);
    let map = format!("nfw-{tag}-map-{}", std::process::id());
    let counters = format!("nfw-{tag}-counters-{}", std::process::id());
    let _mirror = RunningMirror::start(&t.fw, &map, 1024);
    let region = Region::open(&map, Access::ReadOnly).expect("join the map");
    let mut fwd = RunningForwarder::start(&t.fw, &map, &counters, io);
    if io.contains(&"xdp") {
        let link = t.fw.ip("link show dev eth1");
        assert!(link.contains("prog/xdp"), "XDP program attached: {link}");
    }
    round(&t, &fwd, &region, H2_V4, "02:00:00:00:a4:01");
    round(&t, &fwd, &region, H2_V6, "02:00:00:00:a6:01");
    let c = fwd.counters();
    assert_eq!(c.get(Counter::RingFull), 0);
    assert_eq!(c.get(Counter::Busy), 0);
    assert_eq!(c.get(Counter::Malformed), 0);
    let (status, stderr) = fwd.stop();
    assert!(status.success(), "clean exit on SIGTERM: {stderr}");
    assert!(stderr.contains("stopped after"), "{stderr}");
    assert!(stderr.contains(expect), "ran on {expect}: {stderr}");
    let link = t.fw.ip("link show dev eth1");
    assert!(
        !link.contains("prog/xdp"),
        "program detached on exit: {link}"
    );
    assert!(
        Counters::open(&counters).is_err(),
        "counters removed on exit"
    );
}

#[test]
fn forwards_through_the_map_over_af_xdp_native() {
    scenario(
        "forwarder_e2e_xdp",
        "xdp",
        &["--io", "xdp", "--xdp-mode", "native"],
        "XDP program in native/native mode",
    );
}

#[test]
fn forwards_through_the_map_over_af_xdp_generic() {
    scenario(
        "forwarder_e2e_xdp_generic",
        "skb",
        &["--io", "xdp", "--xdp-mode", "generic"],
        "XDP program in generic/generic mode",
    );
}

#[test]
fn forwards_through_the_map_over_af_packet() {
    scenario(
        "forwarder_e2e_packet",
        "packet",
        &["--io", "packet"],
        "AF_PACKET, TPACKET_V3",
    );
}

/// The mirror restarts with another capacity: its region is replaced under the same name
/// and the old one marked superseded (and frozen). The forwarder, running throughout,
/// must follow: a MAC change only the new region sees reaches it within seconds, a
/// deleted neighbor is asked for on the new region's ring and resolved by the new mirror,
/// and its log says once that it joined the new region.
#[test]
fn follows_the_mirror_to_a_new_region() {
    let test = "forwarder_e2e_rejoin";
    if !can_run(test) {
        return;
    }
    let t = Topology::new("rejoin");
    let map = format!("nfw-rejoin-map-{}", std::process::id());
    let counters = format!("nfw-rejoin-counters-{}", std::process::id());
    let first = RunningMirror::start(&t.fw, &map, 1024);
    let old = Region::open(&map, Access::ReadOnly).expect("join the map");
    let mut fwd = RunningForwarder::start(&t.fw, &map, &counters, &["--io", "packet"]);
    let c = fwd.counters();
    let key = NeighKey {
        ifindex: t.fw.ifindex("eth2"),
        addr: H2_V4.parse::<IpAddr>().expect("address"),
    };
    let h2_mac = t.h2.mac("eth0");
    let secs = Duration::from_secs;

    // Forwarding works through the first region (the first ping asks for h2; the
    // reverse path may miss once more).
    ping_once(&t.h1, H2_V4);
    wait_for("the first map learns h2", secs(5), || {
        map_mac(&old, &key) == Some(h2_mac)
    });
    wait_for("pings go through the first region", secs(5), || {
        ping_once(&t.h1, H2_V4)
    });
    assert_eq!(
        ping_all(&t.h1, H2_V4, 5),
        5,
        "0 loss before the restart; {c:?}"
    );
    let before_restart = Snapshot::of(&c);

    // The mirror restarts with another capacity: a new region under the name, the old
    // one superseded.
    first.stop_keeping_map();
    let _second = RunningMirror::start(&t.fw, &map, 4096);
    let new = Region::open(&map, Access::ReadOnly).expect("join the new map");
    let (old_r, new_r) = (old.reader().expect("reader"), new.reader().expect("reader"));
    assert!(old_r.is_superseded(), "the old region is marked superseded");
    assert!(!new_r.is_superseded());
    assert_ne!(
        old_r.capacity(),
        new_r.capacity(),
        "a region of another shape"
    );
    wait_for("the new map learns h2 (first dump)", secs(5), || {
        map_mac(&new, &key) == Some(h2_mac)
    });
    let took = wait_for("the forwarder joins the new region", secs(5), || {
        c.get(Counter::Rejoins) == 1
    });
    eprintln!("rejoin: the forwarder joined the new region after {took:?}");

    // h2's MAC changes: only the new region learns it, and the forwarder sends to it.
    let new_mac_text = "02:00:00:00:a4:02";
    let new_mac = neigh_forwarder::args::parse_mac(new_mac_text).expect("mac");
    t.h2.ip(&format!("link set dev eth0 address {new_mac_text}"));
    wait_for("the new map follows the new MAC", secs(2), || {
        map_mac(&new, &key) == Some(new_mac)
    });
    assert_eq!(
        map_mac(&old, &key),
        Some(h2_mac),
        "the old region is frozen"
    );
    let took = wait_for("pings go through to the new MAC", secs(5), || {
        ping_once(&t.h1, H2_V4)
    });
    eprintln!("rejoin: forwarding to the new MAC after {took:?}");
    assert_eq!(
        ping_all(&t.h1, H2_V4, 10),
        10,
        "0 loss after the rejoin; {c:?}"
    );

    // A miss is asked for on the new region's ring, and the new mirror resolves it.
    let served = || MirrorStats::read(&new_r).get(StatWord::RequestsServed);
    let served_before = served();
    t.fw.ip(&format!("neigh del {H2_V4} dev eth2"));
    wait_for("the new map drops h2", secs(2), || {
        map_mac(&new, &key).is_none()
    });
    let s = Snapshot::of(&c);
    assert!(!ping_once(&t.h1, H2_V4), "ping after delete misses");
    s.wait(&c, Counter::RequestsPosted, 1, "asked for h2 again");
    wait_for("the new mirror resolves h2", secs(5), || {
        map_mac(&new, &key) == Some(new_mac)
    });
    assert!(
        served() > served_before,
        "the new mirror served the request"
    );
    wait_for("pings go through again", secs(5), || {
        ping_once(&t.h1, H2_V4)
    });
    assert_eq!(ping_all(&t.h1, H2_V4, 5), 5, "0 loss again; {c:?}");
    assert_eq!(c.get(Counter::Rejoins), 1, "joined once; {c:?}");
    // Each forwarded ping is two frames out: the counters went on from where they were.
    before_restart.wait(&c, Counter::Tx, 30, "counted across the rejoin");

    let (status, stderr) = fwd.stop();
    assert!(status.success(), "clean exit on SIGTERM: {stderr}");
    let joined = format!("forwarder: map {map} was replaced: joined its new region");
    assert_eq!(
        stderr.matches(&joined).count(),
        1,
        "the rejoin logged once: {stderr}"
    );
}
