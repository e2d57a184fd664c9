//! The `neigh mirror` process and the `neigh map` readers: start, read from another
//! process, clean stop on SIGTERM, restart takes the region over, and a killed mirror is
//! noticed by readers through its stale heartbeat.

mod common;
mod mirror_support;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{Netns, NEIGH};
use mirror_support::*;

fn stat_json(name: &str) -> Option<(i32, serde_json::Value)> {
    let (code, out, _) = map_cmd(&["stat", name, "-j"]);
    serde_json::from_str(&out).ok().map(|v| (code, v))
}

/// A mirror process, killed on drop if the test fails before it ends it.
struct MirrorProcess(Child);

impl Drop for MirrorProcess {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Starts `neigh mirror --map NAME` inside `ns` and waits until the map says "synced".
fn spawn_mirror(ns: &Netns, name: &str) -> MirrorProcess {
    let child = ns
        .command(NEIGH)
        .args(["mirror", "--map", name, "--capacity", "1024"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn neigh mirror");
    let child = MirrorProcess(child);
    let start = Instant::now();
    loop {
        if let Some((_, v)) = stat_json(name) {
            if v["state"] == "synced" && v["owner_pid"].as_u64().is_some_and(|p| p > 0) {
                return child;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "mirror did not sync"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &MirrorProcess, sig: i32) {
    // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
    let rc = unsafe { libc::kill(child.0.id() as i32, sig) };
    assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
}

#[test]
fn mirror_process_stop_restart_and_crash() {
    let Some(ns) = Netns::new("mirror_cli") else {
        return;
    };
    quiet_veth(&ns, "va", "vb");
    ns.ip_ok("neigh add 10.5.0.1 lladdr 02:00:0a:05:00:01 dev va nud permanent");
    let name = map_name("mirror_cli");
    let _cleanup = Cleanup(name.clone());

    // `ip netns exec` execs neigh: the child's pid is the mirror's.
    let mut child = spawn_mirror(&ns, &name);
    ns.ip_ok("neigh add 10.5.0.2 lladdr 02:00:0a:05:00:02 dev va nud reachable router");
    let deadline = Instant::now() + Duration::from_secs(5);
    let shown = loop {
        // Inside the namespace, so interface names resolve as the mirror sees them.
        let o = ns
            .command(NEIGH)
            .args(["map", "show", &name])
            .output()
            .expect("run");
        let (code, out, err) = (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        );
        assert_eq!(code, 0, "{err}");
        if out.lines().count() == 2 {
            break out;
        }
        assert!(Instant::now() < deadline, "map show: {out}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        shown,
        "10.5.0.1 dev va lladdr 02:00:0a:05:00:01 PERMANENT\n\
         10.5.0.2 dev va lladdr 02:00:0a:05:00:02 router REACHABLE\n"
    );
    let (code, text, _) = map_cmd(&["stat", &name]);
    assert_eq!(code, 0);
    assert!(
        text.contains("state synced") && text.contains("entries 2"),
        "{text}"
    );
    let (_, v) = stat_json(&name).expect("stat json");
    let first_start = v["started_ms"].as_u64().expect("started_ms");
    assert_eq!(v["owner_pid"].as_u64(), Some(u64::from(child.0.id())));
    assert!(v["events_applied"].as_u64() >= Some(2), "{v}");

    // A second mirror must not steal the map of a live one.
    let o = ns
        .command(NEIGH)
        .args(["mirror", "--map", &name])
        .stdin(Stdio::null())
        .output()
        .expect("second mirror");
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("kept by a running mirror"), "{err}");

    // Clean stop: exit 0, the map says "stopped" and is not called stale.
    signal(&child, libc::SIGTERM);
    let status = child.0.wait().expect("wait");
    assert!(status.success(), "mirror exit {status:?}");
    let (code, v) = stat_json(&name).expect("stat json");
    assert_eq!((code, v["state"].as_str()), (0, Some("stopped")), "{v}");

    // Restart: the new mirror takes the stopped one's region over in place (a second
    // owner) and resyncs it from a dump, with counters of its own.
    let mut child = spawn_mirror(&ns, &name);
    let (_, v) = stat_json(&name).expect("stat json");
    assert!(v["started_ms"].as_u64() > Some(first_start), "{v}");
    assert_eq!(v["claims"].as_u64(), Some(2), "{v}");
    assert_eq!(v["superseded"].as_bool(), Some(false), "{v}");
    assert_eq!(v["resyncs"].as_u64(), Some(1), "{v}");
    assert_eq!(v["entries"].as_u64(), Some(2), "{v}");

    // Crash: SIGKILL leaves the state "synced" with a heartbeat that stops moving.
    signal(&child, libc::SIGKILL);
    let _ = child.0.wait();
    std::thread::sleep(Duration::from_millis(3600));
    let (code, out, err) = map_cmd(&["stat", &name]);
    assert_eq!(code, 3, "stale heartbeat exit code: {out} {err}");
    assert!(
        out.contains("STALE") && err.contains("heartbeat"),
        "{out} {err}"
    );
    let (code, v) = stat_json(&name).expect("stat json");
    assert_eq!((code, v["stale"].as_bool()), (3, Some(true)));
    // Readers still get the last known entries.
    let (code, out, _) = map_cmd(&["show", &name, "-j"]);
    assert_eq!(code, 3);
    let list: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(list.as_array().map(Vec::len), Some(2));

    // Errors: a missing map, bad usage.
    let (code, _, err) = map_cmd(&["show", "neigh-test-no-such-map"]);
    assert_eq!(code, 1);
    assert!(err.contains("no such map"), "{err}");
    let (code, _, _) = map_cmd(&["frobnicate", &name]);
    assert_eq!(code, 2);
}

struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = neigh::workspace::Workspace::unlink_shm(&self.0);
    }
}
