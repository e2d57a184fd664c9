//! The mirror converges to the kernel's table: hundreds of random `ip neigh` changes
//! (add, replace, change state, delete, flush, delete and re-create an interface), with a
//! reader thread checking every entry throughout and a second process joining read-only.

mod common;
mod mirror_support;

use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;
use std::time::Duration;

use common::Netns;
use mirror_support::*;
use neigh::mirror::{Mirror, MirrorConfig, MirrorState, MirrorStats, Region, StatWord};
use neigh::workspace::Access;
use neigh_core::{NeighEntry, NeighKey, NtfFlags, NudState};

/// States whose setting the kernel announces. (Entering INCOMPLETE/FAILED from a state
/// without a MAC is silent: see `mirror_silent_changes_need_periodic_resync`.)
const STATES: [&str; 4] = ["permanent", "reachable", "stale", "noarp"];

fn random_addr(rng: &mut Rng) -> IpAddr {
    if rng.below(3) == 0 {
        format!("2001:db8::{:x}", 1 + rng.below(60))
            .parse()
            .expect("v6")
    } else {
        format!("10.0.{}.{}", rng.below(2), 1 + rng.below(60))
            .parse()
            .expect("v4")
    }
}

fn random_op(rng: &mut Rng, devs: &[&str]) -> String {
    let dev = devs[rng.below(devs.len() as u64) as usize];
    let addr = random_addr(rng);
    let mac = mac_text(&test_mac(&addr, rng.below(4) as u8 + 1));
    match rng.below(10) {
        0..=4 => {
            let state = STATES[rng.below(STATES.len() as u64) as usize];
            let router = if rng.below(4) == 0 { " router" } else { "" };
            format!("neigh replace {addr} lladdr {mac} dev {dev} nud {state}{router}")
        }
        5 | 6 => format!("neigh change {addr} lladdr {mac} dev {dev} nud stale"),
        _ => format!("neigh del {addr} dev {dev}"),
    }
}

#[test]
fn mirror_random_changes_converge() {
    let Some(ns) = Netns::new("mirror_random") else {
        return;
    };
    for (a, b) in [("va", "vb"), ("vc", "vd"), ("vs", "vt")] {
        quiet_veth(&ns, a, b);
        slow_timers(&ns, a);
    }
    let idx = links(&ns);
    // Entries present throughout: the reader must never miss one.
    let mut stable = Vec::new();
    for i in 1..=30u32 {
        let addr: IpAddr = if i <= 20 {
            format!("10.9.0.{i}").parse().expect("v4")
        } else {
            format!("2001:db8:9::{i:x}").parse().expect("v6")
        };
        let mac = test_mac(&addr, 0);
        ns.ip_ok(&format!(
            "neigh add {addr} lladdr {} dev vs nud permanent",
            mac_text(&mac)
        ));
        stable.push((
            NeighKey {
                ifindex: idx["vs"],
                addr,
            },
            mac,
        ));
    }

    let name = map_name("mirror_random");
    let mirror = RunningMirror::start(
        &ns,
        MirrorConfig {
            map_name: Some(name.clone()),
            capacity: 4096,
            // Events alone must keep the map exact: no periodic re-dump to hide a bug.
            periodic_resync: None,
            ..Default::default()
        },
    );
    let region = mirror.join();
    assert_converges(&ns, &region, Duration::from_secs(10));

    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicU64::new(0));
    let reader = spawn_reader(
        name.clone(),
        stable.clone(),
        Arc::clone(&stop),
        Arc::clone(&rounds),
    );

    let mut rng = Rng(0x5eed_0000_0000_0001 ^ u64::from(std::process::id()));
    eprintln!("mirror_random seed {:#x}", rng.0);
    // One `ip` per change (a batch would stop at the first refused change, e.g. a
    // `change` of an absent entry); refused changes are part of the mix.
    let mut ops = 0;
    let mut done = 0;
    // At least 16 rounds, and on until 200 changes took effect (about half of random
    // changes are refused; a fixed count made the floor below depend on the seed).
    for round in 0..64 {
        if round >= 16 && done >= 200 {
            break;
        }
        for _ in 0..25 {
            ops += 1;
            done += usize::from(ns.ip(&random_op(&mut rng, &["va", "vc"])).status.success());
        }
        if round % 5 == 4 {
            done += usize::from(ns.ip("neigh flush dev va").status.success());
        }
        if round == 7 || round == 12 {
            // Delete an interface with entries on it, then bring it back (new ifindex).
            ns.ip_ok("link del vc");
            quiet_veth(&ns, "vc", "vd");
            slow_timers(&ns, "vc");
        }
    }
    eprintln!("mirror_random: {done} of {ops} changes accepted by the kernel");
    assert!(done >= 200, "too few changes took effect: {done}");
    let n = assert_converges(&ns, &region, Duration::from_secs(15));
    assert!(n > 30, "the random changes left entries ({n})");

    // A second process joins read-only and lists the same entries.
    let out = std::process::Command::new(common::NEIGH)
        .args(["map", "show", &name, "-j"])
        .output()
        .expect("run neigh map show");
    assert!(
        out.status.success(),
        "neigh map show: {}",
        common::stderr(&out)
    );
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let shown = shown.as_array().expect("array");
    let snap = snapshot(&region);
    assert_eq!(
        shown.len(),
        snap.len(),
        "second process sees as many entries"
    );
    for e in shown {
        let key = NeighKey {
            ifindex: e["ifindex"].as_u64().expect("ifindex") as u32,
            addr: e["dst"].as_str().expect("dst").parse().expect("addr"),
        };
        let (mac, _, _) = snap
            .get(&key)
            .unwrap_or_else(|| panic!("{key:?} not in map"));
        assert_eq!(
            e["lladdr"].as_str().map(String::from),
            mac.map(|m| mac_text(&m))
        );
    }

    finish_reader(&stop, &rounds, reader);

    let stats = MirrorStats::read(&region.reader().expect("reader"));
    assert!(stats.get(StatWord::Applied) >= 100, "{stats:?}");
    assert!(stats.get(StatWord::LinkEvents) >= 2, "{stats:?}");
    assert_eq!(
        stats.get(StatWord::Resyncs),
        1,
        "only the initial dump: {stats:?}"
    );
    assert_eq!(stats.state, MirrorState::Synced);
    assert!(!stats.stale);
    mirror.stop().expect("clean stop");
    let stats = MirrorStats::read(&region.reader().expect("reader"));
    assert_eq!(stats.state, MirrorState::Stopped);
}

#[test]
fn mirror_dev_and_family_filters() {
    let Some(ns) = Netns::new("mirror_filter") else {
        return;
    };
    quiet_veth(&ns, "va", "vb");
    quiet_veth(&ns, "vc", "vd");
    for dev in ["va", "vc"] {
        slow_timers(&ns, dev);
        ns.ip_ok(&format!(
            "neigh add 10.1.0.1 lladdr 02:00:0a:01:00:01 dev {dev} nud permanent"
        ));
        ns.ip_ok(&format!(
            "neigh add 2001:db8::1 lladdr 02:00:00:00:00:01 dev {dev} nud permanent"
        ));
    }
    let name = map_name("mirror_filter");
    let mirror = RunningMirror::start(
        &ns,
        MirrorConfig {
            map_name: Some(name),
            capacity: 256,
            devs: vec!["va".into()],
            families: neigh::mirror::Families::V4,
            ..Default::default()
        },
    );
    let region = mirror.join();
    ns.ip_ok("neigh add 10.1.0.2 lladdr 02:00:0a:01:00:02 dev va nud permanent");
    ns.ip_ok("neigh add 10.1.0.2 lladdr 02:00:0a:01:00:02 dev vc nud permanent");
    ns.ip_ok("neigh add 2001:db8::2 lladdr 02:00:00:00:00:02 dev va nud permanent");
    let va = links(&ns)["va"];
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let want: Table = oracle(&ns)
            .into_iter()
            .filter(|(k, _)| k.ifindex == va && k.addr.is_ipv4())
            .collect();
        let got = snapshot(&region);
        if got == want {
            assert_eq!(got.len(), 2);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "filtered map {got:?} != {want:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn mirror_silent_changes_need_periodic_resync() {
    let Some(ns) = Netns::new("mirror_silent") else {
        return;
    };
    quiet_veth(&ns, "va", "vb");
    slow_timers(&ns, "va");
    let name = map_name("mirror_silent");
    let mirror = RunningMirror::start(
        &ns,
        MirrorConfig {
            map_name: Some(name),
            capacity: 256,
            periodic_resync: Some(Duration::from_millis(500)),
            ..Default::default()
        },
    );
    let region = mirror.join();
    // Created unresolved from nothing: the kernel sends no event for these.
    ns.ip_ok("neigh add 10.2.0.1 dev va nud incomplete");
    ns.ip_ok("neigh add 10.2.0.2 dev va nud failed");
    ns.ip_ok("neigh add 2001:db8::5 dev va nud incomplete");
    ns.ip_ok("neigh add 10.2.0.3 lladdr 02:00:0a:02:00:03 dev va nud reachable");
    let n = assert_converges(&ns, &region, Duration::from_secs(5));
    assert_eq!(n, 4);
    // Only a periodic resync can have brought them in. The map may converge while that
    // resync is still sweeping, before it is counted: wait for the count.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let stats = MirrorStats::read(&region.reader().expect("reader"));
        if stats.get(StatWord::Resyncs) >= 2 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{stats:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn mirror_full_map_is_counted_not_fatal() {
    let Some(ns) = Netns::new("mirror_full") else {
        return;
    };
    quiet_veth(&ns, "va", "vb");
    let mut script = String::new();
    for i in 0..200u32 {
        script.push_str(&format!(
            "neigh add 10.6.{}.{} lladdr 02:00:0a:06:00:01 dev va nud permanent\n",
            i >> 8,
            i & 0xff
        ));
    }
    ip_batch(&ns, &script);
    let name = map_name("mirror_full");
    // Sized for 8 entries: 64 slots, far fewer than the kernel's 200.
    let mirror = RunningMirror::start(
        &ns,
        MirrorConfig {
            map_name: Some(name),
            capacity: 8,
            periodic_resync: None,
            ..Default::default()
        },
    );
    let region = mirror.join();
    let stats = MirrorStats::read(&region.reader().expect("reader"));
    assert!(
        stats.get(StatWord::Full) >= 136,
        "refused inserts counted: {:?}",
        stats.words
    );
    assert!(stats.map.len <= 64 && stats.map.len > 0, "{:?}", stats.map);
    assert_eq!(stats.state, MirrorState::Synced);
    // Still running and still exact once the table fits again.
    ns.ip_ok("neigh flush dev va nud permanent");
    ns.ip_ok("neigh add 10.6.9.1 lladdr 02:00:0a:06:09:01 dev va nud permanent");
    let n = assert_converges(&ns, &region, Duration::from_secs(10));
    assert_eq!(n, 1);
    mirror.stop().expect("clean stop");
}

/// A resync sweeps what the kernel no longer has, including when the map holds exactly as
/// many entries as the dump (the resync skips its sweep only when the dump marked every
/// entry of the map), and keeps an exact map through a resync that skips it.
#[test]
fn mirror_resync_sweeps_stale_entries() {
    let Some(ns) = Netns::new("mirror_stale") else {
        return;
    };
    quiet_veth(&ns, "va", "vb");
    let mut script = String::new();
    for i in 1..=20u32 {
        script.push_str(&format!(
            "neigh add 10.7.0.{i} lladdr 02:00:0a:07:00:{i:02x} dev va nud permanent\n"
        ));
    }
    ip_batch(&ns, &script);
    let va = links(&ns)["va"];
    let path = format!("/run/netns/{}", ns.name());
    let name = map_name("mirror_stale");
    // The mirror is driven from this thread (no event loop), so nothing but the test and
    // the resyncs it asks for writes the map.
    std::thread::scope(|s| {
        s.spawn(|| {
            let file = std::fs::File::open(&path).expect("open netns");
            // SAFETY: setns on a valid namespace descriptor; affects this thread only.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            let mut mirror = Mirror::new(MirrorConfig {
                map_name: Some(name.clone()),
                capacity: 64,
                periodic_resync: None,
                ..Default::default()
            })
            .expect("mirror");
            // A second mapping of the region, read-write: the test writes the map as a
            // buggy or lossy mirror would have left it.
            let region = Region::open(&name, Access::ReadWrite).expect("join");
            let region = &region;
            assert_eq!(snapshot(region), oracle(&ns));
            let map = region.writer().expect("read-write").expect("map");
            let key = |a: &str| NeighKey {
                ifindex: va,
                addr: a.parse().expect("addr"),
            };
            // Entries whose deletion the mirror missed (current generation), and as many
            // entries whose addition it missed: the map still holds 20 entries.
            let generation = map.stats().generation as u8;
            for i in 1..=3 {
                let stale = key(&format!("10.7.1.{i}"));
                let entry = NeighEntry {
                    key: stale,
                    mac: Some(test_mac(&stale.addr, 1)),
                    state: NudState::PERMANENT,
                    flags: NtfFlags::NONE,
                };
                assert!(map.upsert(&entry, generation).is_ok());
                assert!(map.remove(&key(&format!("10.7.0.{i}"))));
            }
            assert_eq!(map.len(), 20);
            let removes = map.stats().removes;
            mirror.request_resync();
            assert_eq!(mirror.poll_once(Duration::ZERO).expect("resync").resyncs, 1);
            assert_eq!(
                snapshot(region),
                oracle(&ns),
                "stale entries swept, missed re-added"
            );
            assert_eq!(map.stats().removes, removes + 3);
            // Nothing stale: the resync marks all 20 and skips its sweep.
            mirror.request_resync();
            assert_eq!(mirror.poll_once(Duration::ZERO).expect("resync").resyncs, 1);
            assert_eq!(snapshot(region), oracle(&ns));
            assert_eq!(map.stats().removes, removes + 3);
            // A stale entry next to a kernel entry the mirror missed changing (same key
            // count, one entry updated by the dump, one swept).
            let stale = key("10.7.2.1");
            let entry = NeighEntry {
                key: stale,
                mac: None,
                state: NudState::STALE,
                flags: NtfFlags::NONE,
            };
            let generation = map.stats().generation as u8;
            assert!(map.upsert(&entry, generation).is_ok());
            let changed = NeighEntry {
                key: key("10.7.0.9"),
                mac: Some([2, 0, 0, 0, 0, 9]),
                state: NudState::STALE,
                flags: NtfFlags::ROUTER,
            };
            assert!(map.upsert(&changed, generation).is_ok());
            mirror.request_resync();
            assert_eq!(mirror.poll_once(Duration::ZERO).expect("resync").resyncs, 1);
            assert_eq!(snapshot(region), oracle(&ns));
            assert_eq!(map.stats().removes, removes + 4);
            mirror.stop();
        });
    });
    let _ = neigh::workspace::Workspace::unlink_shm(&name);
}
