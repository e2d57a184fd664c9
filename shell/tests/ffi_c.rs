//! The C API from C: builds `libneigh.a`, compiles examples/c/test_neigh.c and
//! examples/c/resolve_nexthops.c with `cc` against it and `shell/include/neigh.h`, and runs
//! them: the self-contained C test, the example over a map this test writes, and the C
//! lookups against `ip -j neigh show` with the mirror running in a network namespace.

mod c_support;
mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use c_support::build_c;
use common::{fill_reference_table, Netns, NEIGH};
use neigh::workspace::{ShmOptions, Workspace};
use neigh_core::entry::{NeighEntry, NeighKey};
use neigh_core::map::{footprint, MapParams, NeighMap};
use neigh_core::wire::{NtfFlags, NudState};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn assert_ok(what: &str, o: &Output) {
    assert!(
        o.status.success(),
        "{what}: {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        text(&o.stdout),
        text(&o.stderr)
    );
}

/// Removes a named region (and the mirror process, if any) when the test ends.
struct Cleanup {
    shm: String,
    child: Option<Child>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = Workspace::unlink_shm(&self.shm);
    }
}

#[test]
fn c_self_test_passes() {
    let exe = build_c("test_neigh");
    let out = Command::new(exe)
        .arg("self")
        .output()
        .expect("run test_neigh");
    assert_ok("test_neigh self", &out);
    assert!(text(&out.stdout).contains("self: ok (0 failures)"));
}

#[test]
fn c_example_resolves_next_hops_from_a_named_map() {
    let exe = build_c("resolve_nexthops");
    let name = format!("neigh-ffi-example-{}", std::process::id());
    let _cleanup = Cleanup {
        shm: name.clone(),
        child: None,
    };
    let params = MapParams::for_entries(64);
    let ws = Workspace::create_shm(
        &name,
        footprint(&params).expect("size"),
        &ShmOptions::default(),
    )
    .expect("create shm");
    // SAFETY: `ws` is a live read-write mapping of ws.len() bytes that outlives `map`, and
    // every process uses it only through the map.
    let map = unsafe { NeighMap::format_raw(ws.as_mut_ptr(), ws.len(), &params) }.expect("format");
    let lo = 1; // the loopback interface is always ifindex 1
    let entry = |addr: &str, mac: Option<[u8; 6]>, state: u16| NeighEntry {
        key: NeighKey {
            ifindex: lo,
            addr: addr.parse().expect("ip"),
        },
        mac,
        state: NudState(state),
        flags: NtfFlags(if mac.is_some() { 0x80 } else { 0 }),
    };
    map.upsert(&entry("192.0.2.1", Some([2, 0, 0, 0, 0, 1]), 0x02), 0)
        .expect("room");
    map.upsert(&entry("2001:db8::1", Some([2, 0, 0, 0, 0, 2]), 0x80), 0)
        .expect("room");
    map.upsert(&entry("192.0.2.3", None, 0x01), 0)
        .expect("room");
    let out = Command::new(&exe)
        .args([
            &name,
            "lo",
            "192.0.2.1",
            "2001:db8::1",
            "192.0.2.3",
            "192.0.2.4",
        ])
        .output()
        .expect("run resolve_nexthops");
    // Exit status 1: not every next hop resolved.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "192.0.2.1 dev lo lladdr 02:00:00:00:00:01 state 0x02 router\n\
         2001:db8::1 dev lo lladdr 02:00:00:00:00:02 state 0x80 router\n\
         192.0.2.3 dev lo unresolved state 0x01\n\
         192.0.2.4 dev lo absent\n"
    );
    map.remove(&entry("192.0.2.3", None, 0).key);
    map.remove(&entry("192.0.2.4", None, 0).key);
    let out = Command::new(&exe)
        .args([
            "-n",
            "2",
            "-i",
            "1",
            &name,
            "lo",
            "192.0.2.1",
            "2001:db8::1",
        ])
        .output()
        .expect("run resolve_nexthops");
    assert_ok("resolve_nexthops, all resolved", &out);
    assert_eq!(text(&out.stdout).lines().count(), 4);
    let missing = Command::new(&exe)
        .args(["neigh-ffi-no-such-map", "lo", "192.0.2.1"])
        .output()
        .expect("run resolve_nexthops");
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("no map of that name"));
}

/// NUD state bits of `ip -j` state names.
fn nud_bits(names: &serde_json::Value) -> u16 {
    let bit = |n: &str| match n {
        "INCOMPLETE" => 0x01,
        "REACHABLE" => 0x02,
        "STALE" => 0x04,
        "DELAY" => 0x08,
        "PROBE" => 0x10,
        "FAILED" => 0x20,
        "NOARP" => 0x40,
        "PERMANENT" => 0x80,
        _ => 0,
    };
    names
        .as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str()).map(bit).sum())
        .unwrap_or(0)
}

/// The interface index of `dev` in `ns`, from `ip -j link show`.
fn ifindex(ns: &Netns, dev: &str) -> u64 {
    let links: serde_json::Value =
        serde_json::from_str(&ns.ip_ok("-j link show")).expect("ip -j link json");
    links
        .as_array()
        .and_then(|a| a.iter().find(|l| l["ifname"] == dev))
        .and_then(|l| l["ifindex"].as_u64())
        .expect("ifindex of dev")
}

/// `test_neigh check` expectation lines for every entry of `ip -j neigh show` in `ns`.
fn expectations(ns: &Netns) -> Vec<String> {
    let neigh: serde_json::Value =
        serde_json::from_str(&ns.ip_ok("-j neigh show")).expect("ip -j neigh json");
    neigh
        .as_array()
        .expect("array")
        .iter()
        .map(|n| {
            let dev = n["dev"].as_str().expect("dev");
            format!(
                "{} {} {:x} {}",
                ifindex(ns, dev),
                n["dst"].as_str().expect("dst"),
                nud_bits(&n["state"]),
                n["lladdr"].as_str().unwrap_or("-")
            )
        })
        .collect()
}

fn run_check(exe: &Path, map: &str, lines: &[String]) -> Output {
    let mut child = Command::new(exe)
        .args(["check", map, "5000"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run test_neigh check");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(lines.join("\n").as_bytes())
        .expect("write expectations");
    drop(stdin);
    child.wait_with_output().expect("wait test_neigh")
}

/// Who mirrors the kernel into the map during a test.
enum MirrorKind {
    /// `test_neigh serve NAME`: the C API's neigh_mirror_create + neigh_mirror_run.
    C,
    /// `neigh mirror --map NAME`: the CLI.
    Cli,
}

/// Starts a mirror of `ns` into `name` and waits until its region can be joined. `None`
/// when this build's `neigh` has no mirror command yet.
fn start_mirror(ns: &Netns, name: &str, kind: &MirrorKind, exe: &Path) -> Child {
    let mut cmd = match kind {
        MirrorKind::C => {
            let mut c = ns.command(exe.to_str().expect("utf-8 path"));
            c.args(["serve", name]);
            c
        }
        MirrorKind::Cli => {
            let mut c = ns.command(NEIGH);
            c.args(["mirror", "--map", name]);
            c
        }
    };
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mirror");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().expect("wait mirror") {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            panic!("mirror exited early ({status}): {err}");
        }
        if Workspace::open_shm(name, neigh::workspace::Access::ReadOnly).is_ok() {
            return child;
        }
        assert!(
            Instant::now() < deadline,
            "the mirror did not publish {name}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The C lookups agree with `ip -j neigh show` while `kind` mirrors `ns`: first the
/// entries the mirror dumped at start, then changes it learned from events, then a
/// resolution request posted from C that makes the kernel create an entry.
fn lookups_match_ip_neigh(test: &str, kind: MirrorKind) {
    let exe = build_c("test_neigh");
    let Some(ns) = Netns::new(test) else {
        return;
    };
    fill_reference_table(&ns);
    ns.ip_ok("addr add 10.0.0.254/24 dev va");
    let name = format!("neigh-{test}-{}", std::process::id());
    let mut cleanup = Cleanup {
        shm: name.clone(),
        child: None,
    };
    cleanup.child = Some(start_mirror(&ns, &name, &kind, &exe));

    // Entries present before the mirror started reach the map through its dump.
    let before = expectations(&ns);
    assert!(before.len() >= 12, "{before:?}");
    let out = run_check(&exe, &name, &before);
    assert_ok("test_neigh check (dump)", &out);

    // Changes while it runs reach the map through events: adds, a change, deletes.
    ns.ip_ok("neigh add 10.0.0.50 lladdr 02:00:00:00:00:50 dev va nud permanent");
    ns.ip_ok("neigh add 2001:db8::50 lladdr 02:00:00:00:00:51 dev vc nud permanent");
    ns.ip_ok("neigh replace 10.0.0.1 lladdr 02:00:00:00:01:01 dev va nud permanent");
    ns.ip_ok("neigh del 10.0.0.3 dev va");
    ns.ip_ok("neigh del 2001:db8::2 dev va");
    let mut after = expectations(&ns);
    let va = ifindex(&ns, "va");
    after.push(format!("{va} 10.0.0.3 absent"));
    after.push(format!("{va} 2001:db8::2 absent"));
    assert!(after.iter().any(|l| l.ends_with("02:00:00:00:01:01")));
    let out = run_check(&exe, &name, &after);
    assert_ok("test_neigh check (events)", &out);
    assert!(
        text(&out.stdout).contains(&format!("{} expectations, 0 failures", after.len())),
        "{}",
        text(&out.stdout)
    );

    // A miss posted from C: the mirror has the kernel create the entry, the map shows it.
    let out = Command::new(&exe)
        .args(["request", &name, &va.to_string(), "10.0.0.77", "5000"])
        .output()
        .expect("run test_neigh request");
    assert_ok("test_neigh request", &out);
    let kernel = ns.ip_ok("neigh show 10.0.0.77 dev va");
    assert!(
        kernel.contains("10.0.0.77"),
        "kernel has no entry: {kernel:?}"
    );

    // The C mirror stops cleanly on SIGTERM (neigh_mirror_run returns, destroy).
    if let MirrorKind::C = kind {
        let child = cleanup.child.take().expect("mirror");
        let pid = libc::pid_t::try_from(child.id()).expect("pid");
        // SAFETY: kill on the pid of a child this test spawned and has not reaped.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let out = child.wait_with_output().expect("wait mirror");
        assert_ok("test_neigh serve", &out);
        assert!(text(&out.stdout).contains("serve: 0 failures"));
    }
}

#[test]
fn c_lookups_match_ip_neigh_with_the_c_mirror() {
    lookups_match_ip_neigh("ffi-cmirror", MirrorKind::C);
}

#[test]
fn c_lookups_match_ip_neigh_with_the_cli_mirror() {
    lookups_match_ip_neigh("ffi-climirror", MirrorKind::Cli);
}
