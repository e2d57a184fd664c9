//! Mirrors in different pid namespaces sharing one map name (a mirror in a container
//! that shares /dev/shm with the host): a pid means nothing outside its namespace, so a
//! starting mirror judges a holder from elsewhere by its heartbeat. It refuses to start
//! while that heartbeat goes on, and leaves the running mirror writing; a holder from
//! elsewhere that was killed is superseded once its heartbeat is stale, never taken over
//! in place. A holder that recorded no pid namespace (a region written by an older
//! build) is judged the same way.
//!
//! The mirror from elsewhere runs under `unshare --pid --fork --mount-proc`, with a pid
//! that no process has in the test's namespace: the number `kill(pid, 0)` here answers
//! with `ESRCH`.

mod common;
mod mirror_support;

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Netns, NEIGH};
use mirror_support::{assert_converges, map_name, quiet_veth, wait_synced};
use neigh::mirror::{
    monotonic_ms, process_exists, MirrorConfig, MirrorState, MirrorStats, PidNs, Region, StatWord,
};
use neigh::workspace::{Access, ShmOptions, Workspace};
use neigh_core::map::MapParams;

/// Removes the named region when the test ends.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Workspace::unlink_shm(&self.0);
    }
}

/// The highest pid below `pid_max` that no process has in this pid namespace.
fn unused_pid() -> u32 {
    let max: u32 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .expect("pid_max")
        .trim()
        .parse()
        .expect("pid_max number");
    (1000..max - 1)
        .rev()
        .find(|&p| !process_exists(u64::from(p)))
        .expect("a free pid")
}

/// A `neigh mirror` in a pid namespace of its own (inside the test's network namespace),
/// where its pid is `pid_there`; everything in that namespace is killed on drop.
struct ForeignMirror {
    /// `unshare` (`ip netns exec` execs it); its child, a shell, is the namespace's init.
    unshare: Child,
    pid_there: u32,
}

impl ForeignMirror {
    /// Starts the mirror of map `name`; the shell that is the namespace's init sets the
    /// namespace's last pid so that the mirror gets `pid_there`.
    fn spawn(ns: &Netns, name: &str, pid_there: u32) -> Self {
        let script = format!(
            "echo {} > /proc/sys/kernel/ns_last_pid || exit 9; \
             \"$0\" mirror --map \"$1\" --capacity 1024 & wait $!",
            pid_there - 1
        );
        let unshare = ns
            .command("unshare")
            .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
            .args(["sh", "-c", &script, NEIGH, name])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn unshare");
        ForeignMirror { unshare, pid_there }
    }

    /// The mirror's pid in the test's namespace: the child of the namespace's init.
    fn pid_here(&self) -> u32 {
        let children = |pid: u32| {
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok())
                .collect::<Vec<_>>()
        };
        let start = Instant::now();
        loop {
            let init = children(self.unshare.id());
            let mirror = init.first().and_then(|&i| children(i).first().copied());
            if let Some(pid) = mirror {
                let status =
                    std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
                let nspid = status.lines().find(|l| l.starts_with("NSpid:"));
                assert_eq!(
                    nspid.and_then(|l| l.split_whitespace().last()),
                    Some(self.pid_there.to_string().as_str()),
                    "the mirror's pid in its namespace: {status}"
                );
                return pid;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the mirror did not start in its pid namespace"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on the mirror this test started (its pid here), not yet reaped
        // by the namespace's init, which waits for it.
        let rc = unsafe { libc::kill(self.pid_here() as i32, sig) };
        assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
    }

    /// Waits (up to `limit`) for the namespace's init to exit with the mirror's status;
    /// returns it (-1 for a signal) and the mirror's stderr.
    fn wait(&mut self, limit: Duration) -> (i32, String) {
        let (status, err) = wait_exit(&mut self.unshare, limit);
        let status = status.unwrap_or_else(|| panic!("no exit in {limit:?}: {err}"));
        (status, err)
    }
}

impl Drop for ForeignMirror {
    fn drop(&mut self) {
        // `--kill-child`: the namespace's init, and with it everything in the namespace,
        // is killed when `unshare` dies.
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
    }
}

/// Waits (up to `limit`) for `child` to exit; kills it otherwise. Returns its exit code
/// (`None` when it had to be killed, -1 for a signal) and its stderr.
fn wait_exit(child: &mut Child, limit: Duration) -> (Option<i32>, String) {
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break Some(s.code().unwrap_or(-1));
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    (status, err)
}

/// `neigh mirror --map NAME` in the test's pid namespace (inside `ns`).
fn spawn_mirror(ns: &Netns, name: &str) -> Child {
    ns.command(NEIGH)
        .args(["mirror", "--map", name, "--capacity", "1024"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn neigh mirror")
}

/// `neigh map check NAME`, run in the test's pid namespace: exit code and its line.
fn map_check(name: &str) -> (i32, String) {
    let o = Command::new(NEIGH)
        .args(["map", "check", name])
        .output()
        .expect("run neigh map check");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

/// A second mirror started in the test's pid namespace while a mirror in another one
/// keeps the map refuses, as for a live mirror of its own namespace, within about one
/// heartbeat period (it saw the heartbeat go on), and touches nothing: the first mirror
/// keeps the claim, goes on writing what the kernel changes, and the map checks clean.
/// Once the first stops cleanly (its claim released), a mirror of the test's namespace
/// takes the region over in place.
#[test]
fn a_mirror_in_another_pid_namespace_is_refused_not_taken_over() {
    let Some(ns) = Netns::new("pidns-refuse") else {
        return;
    };
    quiet_veth(&ns, "va", "vb");
    ns.ip_ok("neigh replace 10.9.6.1 lladdr 02:00:0a:09:06:01 dev va nud permanent");
    let name = map_name("pidns-refuse");
    let _cleanup = Cleanup(name.clone());
    let pid_there = unused_pid();
    let mut first = ForeignMirror::spawn(&ns, &name, pid_there);
    let before = wait_synced(&name, pid_there);
    assert!(
        !process_exists(u64::from(pid_there)),
        "pid {pid_there} was taken here meanwhile: the test needs it unused"
    );
    let theirs = before
        .owner_pid_ns()
        .expect("the first mirror recorded its pid namespace");
    assert_ne!(Some(theirs), PidNs::current(), "{before:?}");
    let region = Region::open(&name, Access::ReadOnly).expect("join");

    let start = Instant::now();
    let mut second = spawn_mirror(&ns, &name);
    let (code, err) = wait_exit(&mut second, Duration::from_secs(15));
    let took = start.elapsed();
    let code = code.unwrap_or_else(|| {
        panic!(
            "the second mirror kept running: it took over the map of the running mirror \
             pid {pid_there} of another pid namespace: {err}"
        )
    });
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("kept by a running mirror") && err.contains(&format!("pid {pid_there}")),
        "{err}"
    );
    assert!(
        took < Duration::from_secs(3),
        "the refusal waited for more than the heartbeat going on: {took:?}"
    );

    // The first mirror still owns the region and follows the kernel.
    let after = MirrorStats::read(&region.reader().expect("reader"));
    assert_eq!(
        (
            after.map.owner,
            after.map.claims,
            after.map.superseded,
            after.map.poisoned
        ),
        (u64::from(pid_there), before.map.claims, false, false),
        "{after:?}"
    );
    ns.ip_ok("neigh replace 10.9.6.2 lladdr 02:00:0a:09:06:02 dev va nud permanent");
    ns.ip_ok("neigh del 10.9.6.1 dev va");
    assert_eq!(assert_converges(&ns, &region, Duration::from_secs(5)), 1);
    let (code, out) = map_check(&name);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("pid {pid_there}")), "{out}");

    // A clean stop releases the claim: then a mirror here takes the region over in place.
    first.signal(libc::SIGTERM);
    let (code, err) = first.wait(Duration::from_secs(5));
    assert_eq!(code, 0, "the first mirror's clean stop: {err}");
    assert!(!err.contains("taken over"), "{err}");
    let mut third = spawn_mirror(&ns, &name);
    let owned = wait_synced(&name, third.id());
    assert_eq!(
        (owned.map.claims, owned.map.superseded),
        (before.map.claims + 1, false),
        "{owned:?}"
    );
    assert_eq!(owned.owner_pid_ns(), PidNs::current());
    assert!(
        !MirrorStats::read(&region.reader().expect("reader"))
            .map
            .superseded
    );
    let _ = third.kill();
    let _ = third.wait();
}

/// A mirror of another pid namespace killed with SIGKILL: its pid says nothing here, so a
/// mirror started here waits until its heartbeat is stale, then supersedes the region
/// (the writer it cannot see might only hang) instead of taking it over in place, and
/// follows the kernel in a new one.
#[test]
fn a_killed_mirror_of_another_pid_namespace_is_superseded_once_stale() {
    let Some(ns) = Netns::new("pidns-killed") else {
        return;
    };
    quiet_veth(&ns, "va", "vb");
    ns.ip_ok("neigh replace 10.9.7.1 lladdr 02:00:0a:09:07:01 dev va nud permanent");
    let name = map_name("pidns-killed");
    let _cleanup = Cleanup(name.clone());
    let pid_there = unused_pid();
    let mut first = ForeignMirror::spawn(&ns, &name, pid_there);
    wait_synced(&name, pid_there);
    let old = Region::open(&name, Access::ReadOnly).expect("join");
    first.signal(libc::SIGKILL);
    first.wait(Duration::from_secs(5));

    let start = Instant::now();
    let mut second = spawn_mirror(&ns, &name);
    let owned = wait_synced(&name, second.id());
    let took = start.elapsed();
    assert!(
        MirrorStats::read(&old.reader().expect("reader"))
            .map
            .superseded,
        "the region of a writer of another pid namespace was taken over in place"
    );
    assert_eq!(
        (owned.map.claims, owned.map.superseded),
        (1, false),
        "{owned:?}"
    );
    ns.ip_ok("neigh replace 10.9.7.2 lladdr 02:00:0a:09:07:02 dev va nud permanent");
    let region = Region::open(&name, Access::ReadOnly).expect("join the new region");
    assert_converges(&ns, &region, Duration::from_secs(5));
    let _ = second.kill();
    let (_, err) = wait_exit(&mut second, Duration::from_secs(5));
    assert!(err.contains("marked superseded"), "{err}");
    eprintln!("a killed mirror of another pid namespace was replaced in {took:?}");
}

/// A region whose holder recorded no pid namespace (as one written by an older build),
/// held under a pid no process has here: while its heartbeat goes on, a mirror refuses
/// to start; once it stops, a mirror supersedes the region after it went stale.
#[test]
fn a_holder_that_recorded_no_pid_namespace_is_judged_by_its_heartbeat() {
    let Some(ns) = Netns::new("pidns-unrecorded") else {
        return;
    };
    quiet_veth(&ns, "va", "vb");
    let name = map_name("pidns-unrecorded");
    let _cleanup = Cleanup(name.clone());
    let cfg = MirrorConfig::default();
    let params = MapParams::for_entries(1024);
    let region = Region::create(
        Some(&name),
        &params,
        cfg.resolve.ring_cells,
        &ShmOptions::default(),
    )
    .expect("create region");
    let map = region.writer().expect("writable").expect("map");
    let holder = unused_pid();
    map.claim(0, holder).expect("claim");
    map.set_owner(u64::from(holder));
    map.stat_store(StatWord::HeartbeatPeriodMs.index(), 100);
    map.stat_store(StatWord::State.index(), MirrorState::Synced.as_u64());
    map.heartbeat(monotonic_ms());
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                map.heartbeat(monotonic_ms());
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let mut refused = spawn_mirror(&ns, &name);
        let (code, err) = wait_exit(&mut refused, Duration::from_secs(15));
        stop.store(true, Ordering::Relaxed);
        let code = code.unwrap_or_else(|| panic!("took the map of a beating holder: {err}"));
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("kept by a running mirror"), "{err}");
    });
    assert!(!region.reader().expect("reader").is_superseded());

    let mut mirror = spawn_mirror(&ns, &name);
    wait_synced(&name, mirror.id());
    assert!(region.reader().expect("reader").is_superseded());
    let _ = mirror.kill();
    let _ = mirror.wait();
}
