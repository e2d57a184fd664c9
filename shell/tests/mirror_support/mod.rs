//! Shared by the mirror_* integration tests: run a [`Mirror`] inside a test namespace,
//! snapshot its map, read the kernel's table with `ip -j neigh show nud all` (the oracle),
//! wait for the two to agree, and a reader thread that checks entries while changes run.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use neigh::mirror::{Mirror, MirrorConfig, MirrorState, MirrorStats, Region};
use neigh::workspace::{Access, Workspace};
use neigh_core::{Mac, NeighKey, NudState};

use crate::common::Netns;

/// What the comparison looks at for one entry: MAC (None when unresolved), NUD state, and
/// the router flag.
pub type Table = BTreeMap<NeighKey, (Option<Mac>, u16, bool)>;

/// A mirror running on its own thread inside a namespace; stopped and its region
/// unlinked on drop.
pub struct RunningMirror {
    pub name: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<(), neigh::mirror::MirrorError>>>,
}

impl RunningMirror {
    /// Starts `cfg` (its `map_name` must be set) on a thread that entered `ns`; returns
    /// once the first sync is done. Panics if the mirror cannot start.
    pub fn start(ns: &Netns, cfg: MirrorConfig) -> Self {
        let name = cfg.map_name.clone().expect("named map");
        let path = format!("/run/netns/{}", ns.name());
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let file = File::open(&path).expect("open netns");
            // SAFETY: setns on a valid namespace descriptor; affects this thread only.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            let mut m = match Mirror::new(cfg) {
                Ok(m) => {
                    let _ = tx.send(Ok(()));
                    m
                }
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                    return Ok(());
                }
            };
            m.run(&flag)
        });
        rx.recv_timeout(Duration::from_secs(30))
            .expect("mirror thread answered")
            .expect("mirror started");
        RunningMirror {
            name,
            stop,
            thread: Some(thread),
        }
    }

    /// True while the mirror's `run` has not returned.
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Joins the region read-only, as a data plane would.
    pub fn join(&self) -> Region {
        Region::open(&self.name, Access::ReadOnly).expect("join map")
    }

    /// Stops the mirror and returns what `run` returned.
    pub fn stop(mut self) -> Result<(), neigh::mirror::MirrorError> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .expect("running")
            .join()
            .expect("mirror thread panicked")
    }
}

impl Drop for RunningMirror {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = Workspace::unlink_shm(&self.name);
    }
}

/// A unique map name for a test.
pub fn map_name(test: &str) -> String {
    format!("neigh-test-{test}-{}", std::process::id())
}

/// Interface name -> index inside `ns`.
pub fn links(ns: &Netns) -> HashMap<String, u32> {
    let out = ns.ip_ok("-j link show");
    let v: serde_json::Value = serde_json::from_str(&out).expect("ip -j link json");
    v.as_array()
        .expect("array")
        .iter()
        .filter_map(|l| {
            Some((
                l["ifname"].as_str()?.to_owned(),
                l["ifindex"].as_u64()? as u32,
            ))
        })
        .collect()
}

fn parse_mac(s: &str) -> Option<Mac> {
    let mut m = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut m {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(m)
}

/// The kernel's table per `ip -j neigh show nud all` (proxy entries are not listed).
pub fn oracle(ns: &Netns) -> Table {
    let idx = links(ns);
    let out = ns.ip_ok("-j neigh show nud all");
    let v: serde_json::Value = serde_json::from_str(&out).expect("ip -j neigh json");
    let mut t = Table::new();
    for e in v.as_array().expect("array") {
        let addr: IpAddr = e["dst"].as_str().expect("dst").parse().expect("addr");
        let dev = e["dev"].as_str().expect("dev");
        let ifindex = *idx.get(dev).expect("known dev");
        let mac = e["lladdr"].as_str().and_then(parse_mac);
        let mut state = 0u16;
        for s in e["state"].as_array().into_iter().flatten() {
            state |= NudState::from_name(s.as_str().unwrap_or("")).map_or(0, |s| s.0);
        }
        let router = e.get("router").is_some();
        t.insert(NeighKey { ifindex, addr }, (mac, state, router));
    }
    t
}

/// The map's content (retrying an iteration that met a busy lock).
pub fn snapshot(region: &Region) -> Table {
    let r = region.reader().expect("reader");
    'retry: loop {
        let mut t = Table::new();
        for e in r.iter() {
            let Ok(e) = e else { continue 'retry };
            let e = e.entry();
            t.insert(
                e.key,
                (
                    e.mac,
                    e.state.0,
                    e.flags.contains(neigh_core::NtfFlags::ROUTER),
                ),
            );
        }
        return t;
    }
}

/// Waits (up to `timeout`) until the map equals the oracle; panics with a diff if not.
pub fn assert_converges(ns: &Netns, region: &Region, timeout: Duration) -> usize {
    let start = Instant::now();
    loop {
        let want = oracle(ns);
        let got = snapshot(region);
        if got == want {
            return want.len();
        }
        if start.elapsed() > timeout {
            let missing: Vec<_> = want
                .iter()
                .filter(|(k, v)| got.get(k) != Some(v))
                .take(10)
                .collect();
            let extra: Vec<_> = got
                .iter()
                .filter(|(k, v)| want.get(k) != Some(v))
                .take(10)
                .collect();
            let stats = MirrorStats::read(&region.reader().expect("reader"));
            panic!(
                "map did not converge in {timeout:?}: kernel {} entries, map {}; \
                 kernel-not-map (first 10): {missing:?}; map-not-kernel (first 10): {extra:?}; \
                 mirror stats {:?}",
                want.len(),
                got.len(),
                stats.words
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The MAC the tests give `addr` (variant `v`): the address's last four bytes after
/// `02:v`, so a reader can tell a key paired with another key's MAC.
pub fn test_mac(addr: &IpAddr, v: u8) -> Mac {
    let tail = match addr {
        IpAddr::V4(a) => a.octets(),
        IpAddr::V6(a) => {
            let o = a.octets();
            [o[12], o[13], o[14], o[15]]
        }
    };
    [2, v, tail[0], tail[1], tail[2], tail[3]]
}

/// `02:vv:aa:bb:cc:dd` text of [`test_mac`].
pub fn mac_text(m: &Mac) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// What the reader thread saw.
#[derive(Debug, Default)]
pub struct ReaderReport {
    pub lookups: u64,
    pub iterated: u64,
    pub torn: Vec<String>,
    pub missed: Vec<String>,
}

/// Runs until `stop`: looks up every `stable` entry (must always be present with its MAC)
/// and walks the map checking each test entry's MAC against [`test_mac`].
pub fn spawn_reader(
    name: String,
    stable: Vec<(NeighKey, Mac)>,
    stop: Arc<AtomicBool>,
    rounds: Arc<AtomicU64>,
) -> JoinHandle<ReaderReport> {
    std::thread::spawn(move || {
        let region = Region::open(&name, Access::ReadOnly).expect("reader join");
        let r = region.reader().expect("reader");
        let mut rep = ReaderReport::default();
        while !stop.load(Ordering::Relaxed) {
            for (k, mac) in &stable {
                rep.lookups += 1;
                match r.get(k) {
                    Ok(Some(e)) if e.mac() == Some(*mac) && e.key() == *k => {}
                    Ok(other) => {
                        if rep.missed.len() < 10 {
                            rep.missed.push(format!("{k:?}: {other:?}"));
                        }
                    }
                    Err(_busy) => {}
                }
            }
            for e in r.iter().flatten() {
                rep.iterated += 1;
                let e = e.entry();
                if let Some(m) = e.mac {
                    if m[0] == 2 && test_mac(&e.key.addr, m[1]) != m && rep.torn.len() < 10 {
                        rep.torn.push(format!("{e:?}"));
                    }
                }
            }
            rounds.fetch_add(1, Ordering::Relaxed);
        }
        rep
    })
}

/// Stops the reader thread and asserts what it saw: it ran, no torn entry, no stable
/// entry ever missing. Prints its counts.
pub fn finish_reader(
    stop: &AtomicBool,
    rounds: &AtomicU64,
    reader: JoinHandle<ReaderReport>,
) -> ReaderReport {
    stop.store(true, Ordering::Relaxed);
    let rep = reader.join().expect("reader");
    let rounds = rounds.load(Ordering::Relaxed);
    assert!(rounds > 0, "the reader ran");
    assert!(rep.torn.is_empty(), "torn entries: {:?}", rep.torn);
    assert!(
        rep.missed.is_empty(),
        "stable entries missed: {:?}",
        rep.missed
    );
    eprintln!(
        "reader: {rounds} rounds, {} lookups, {} entries iterated",
        rep.lookups, rep.iterated
    );
    rep
}

/// Adds a veth pair `a`/`b`, both up, without IPv6 link-local addresses (so the kernel
/// creates no multicast NOARP entries of its own, which it would not announce).
pub fn quiet_veth(ns: &Netns, a: &str, b: &str) {
    ns.ip_ok(&format!("link add {a} type veth peer name {b}"));
    for d in [a, b] {
        ns.ip_ok(&format!("link set {d} addrgenmode none"));
        ns.ip_ok(&format!("link set {d} up"));
    }
}

/// Sets slow NUD timers on `dev` so entries do not change state on their own mid-test.
pub fn slow_timers(ns: &Netns, dev: &str) {
    for fam in ["ipv4", "ipv6"] {
        for knob in ["retrans_time_ms", "base_reachable_time_ms"] {
            let o = ns
                .command("sysctl")
                .args(["-qw", &format!("net.{fam}.neigh.{dev}.{knob}=600000")])
                .output()
                .expect("sysctl");
            assert!(o.status.success(), "sysctl {dev} {knob}");
        }
    }
}

/// Runs `ip -n NS -force -batch -` with `script` on stdin and waits for it. Its exit
/// status is not checked: the callers check the resulting table (against `ip`, or its size).
pub fn ip_batch(ns: &Netns, script: &str) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("ip")
        .args(["-n", ns.name(), "-force", "-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ip -batch");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write batch");
    child.wait().expect("ip -batch exit");
}

/// A small deterministic PRNG (xorshift64*), so a failing run can be replayed by seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Waits until the region under `name` is owned by `pid` and synced; returns its stats.
pub fn wait_synced(name: &str, pid: u32) -> MirrorStats {
    let start = Instant::now();
    loop {
        if let Ok(region) = Region::open(name, Access::ReadOnly) {
            if let Ok(r) = region.reader() {
                let s = MirrorStats::read(&r);
                if s.map.owner == u64::from(pid) && s.state == MirrorState::Synced {
                    return s;
                }
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "mirror {pid} did not sync {name}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `neigh map ARGS...`: exit code, stdout and stderr.
pub fn map_cmd(args: &[&str]) -> (i32, String, String) {
    let o = std::process::Command::new(crate::common::NEIGH)
        .arg("map")
        .args(args)
        .output()
        .expect("run neigh map");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}
