//! `dist/neigh-mirror@.service` under a real systemd: systemd boots as PID 1 of its own
//! PID, mount, UTS, IPC and cgroup namespaces inside the test's network namespace, with
//! tmpfs over the unit directories so it knows only this unit (and a few empty stubs of
//! the targets a service depends on by default). Checked: the mirror becomes active
//! (running) only through `READY=1`, shows its `STATUS=`, runs with CAP_NET_ADMIN alone,
//! no new privileges and a seccomp filter under the unit's sandboxing, and when its loop
//! stalls (test hook) the watchdog kills it and systemd restarts it.

mod common;
mod mirror_support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Netns, NEIGH};
use mirror_support::*;
use neigh::mirror::{MirrorState, MirrorStats, Region};
use neigh::workspace::{Access, Workspace};

/// What runs inside the new namespaces: mounts, the units, then systemd as PID 1.
/// `$1`: the unit directory, `$2`: the neigh binary.
const INNER: &str = r#"
set -eu
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t proc proc /proc
mount -t tmpfs tmpfs /run
for d in /etc/systemd/system /usr/lib/systemd/system /usr/lib/systemd/system-generators \
         /usr/lib/systemd/system-environment-generators /usr/lib/systemd/system-preset \
         /etc/systemd/system-preset; do
  if [ -d "$d" ]; then mount -t tmpfs tmpfs "$d"; fi
done
cp -r "$1"/. /usr/lib/systemd/system/
mkdir -p /run/neigh-test
cp "$2" /run/neigh-test/neigh
export container=neigh-test
exec /lib/systemd/systemd --system --log-target=null --unit=neigh-test.target --show-status=no
"#;

/// The cgroup2 mount point of this host (`/sys/fs/cgroup` or `/sys/fs/cgroup/unified`).
fn cgroup2_mount() -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        (post.split(' ').next() == Some("cgroup2"))
            .then(|| pre.split(' ').nth(4).map(PathBuf::from))?
    })
}

/// A systemd booted for one test; killed, and its cgroups removed, on drop.
struct Systemd {
    /// `unshare`, whose only child is systemd.
    unshare: Child,
    cgroup: PathBuf,
    units: PathBuf,
}

impl Systemd {
    fn boot(ns: &Netns, units: PathBuf) -> Self {
        let cgroup = cgroup2_mount()
            .expect("a cgroup2 mount")
            .join(format!("neigh-test-systemd-{}", std::process::id()));
        std::fs::create_dir_all(&cgroup).expect("create cgroup");
        let cgroup_procs = cgroup.join("cgroup.procs");
        // The shell joins the test's cgroup, then becomes `ip netns exec` and `unshare`.
        let outer = r#"echo $$ > "$1" && shift && exec "$@""#;
        let unshare = Command::new("bash")
            .args(["-c", outer, "outer"])
            .arg(&cgroup_procs)
            .args([
                "ip",
                "netns",
                "exec",
                ns.name(),
                "unshare",
                "--cgroup",
                "--pid",
            ])
            .args([
                "--fork",
                "--mount",
                "--uts",
                "--ipc",
                "--propagation",
                "private",
            ])
            .args(["bash", "-c", INNER, "inner"])
            .arg(&units)
            .arg(NEIGH)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn systemd");
        Systemd {
            unshare,
            cgroup,
            units,
        }
    }

    /// systemd's pid (in this PID namespace), once it runs.
    fn pid(&self) -> u32 {
        let id = self.unshare.id();
        let start = Instant::now();
        loop {
            let children = std::fs::read_to_string(format!("/proc/{id}/task/{id}/children"))
                .unwrap_or_default();
            if let Some(pid) = children.split_whitespace().next() {
                if std::fs::read_link(format!("/proc/{pid}/exe"))
                    .is_ok_and(|e| e.ends_with("systemd"))
                {
                    return pid.parse().expect("pid");
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "systemd did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A command run in systemd's mount and PID namespaces (`nsenter`).
    fn inside(&self, args: &[&str]) -> String {
        let o = Command::new("nsenter")
            .args(["-t", &self.pid().to_string(), "-m", "-p", "--"])
            .args(args)
            .output()
            .expect("nsenter");
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// `systemctl show -p PROPS UNIT` as a map.
    fn show(&self, unit: &str, props: &str) -> std::collections::HashMap<String, String> {
        self.inside(&["systemctl", "show", "-p", props, unit])
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }
}

impl Drop for Systemd {
    fn drop(&mut self) {
        let id = self.unshare.id();
        // Killing a PID namespace's init kills everything in it.
        if let Ok(children) = std::fs::read_to_string(format!("/proc/{id}/task/{id}/children")) {
            for pid in children
                .split_whitespace()
                .filter_map(|p| p.parse::<i32>().ok())
            {
                // SAFETY: kill(2) on the pid of the systemd this test started.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
        // Remove the cgroups systemd made, deepest first, once their processes are gone.
        let start = Instant::now();
        while remove_tree(&self.cgroup).is_err() && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = std::fs::remove_dir_all(&self.units);
    }
}

/// Removes a cgroup directory tree (cgroupfs removes only empty cgroups, with rmdir).
fn remove_tree(dir: &Path) -> std::io::Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            remove_tree(&e.path())?;
        }
    }
    std::fs::remove_dir(dir)
}

/// The unit directory: the shipped unit (starting the test's binary), stub targets, a
/// target that wants `neigh-mirror@NAME`, and a drop-in for the test.
fn units(name: &str, dropin: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("neigh-test-units-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("units dir");
    let unit = include_str!("../../dist/neigh-mirror@.service")
        .replace("/usr/bin/neigh", "/run/neigh-test/neigh");
    std::fs::write(dir.join("neigh-mirror@.service"), unit).expect("unit");
    for t in ["sysinit", "basic", "shutdown", "network-pre", "multi-user"] {
        std::fs::write(
            dir.join(format!("{t}.target")),
            format!("[Unit]\nDescription={t} (stub)\n"),
        )
        .expect("stub");
    }
    std::fs::write(
        dir.join("neigh-test.target"),
        format!("[Unit]\nDescription=neigh test\nWants=neigh-mirror@{name}.service\n"),
    )
    .expect("target");
    let d = dir.join(format!("neigh-mirror@{name}.service.d"));
    std::fs::create_dir_all(&d).expect("drop-in dir");
    std::fs::write(d.join("test.conf"), dropin).expect("drop-in");
    dir
}

fn stats(name: &str) -> Option<MirrorStats> {
    let region = Region::open(name, Access::ReadOnly).ok()?;
    let reader = region.reader().ok()?;
    Some(MirrorStats::read(&reader))
}

#[test]
fn unit_runs_under_systemd_with_readiness_least_privilege_and_watchdog() {
    let Some(ns) = Netns::new("systemd_unit") else {
        return;
    };
    if !Path::new("/lib/systemd/systemd").exists() || cgroup2_mount().is_none() {
        assert!(
            std::env::var("NEIGH_REQUIRE_NETNS").as_deref() != Ok("1"),
            "systemd or a cgroup2 mount is missing"
        );
        eprintln!("SKIPPED systemd_unit: no /lib/systemd/systemd or no cgroup2 mount");
        return;
    }
    quiet_veth(&ns, "va", "vb");
    ip_batch(
        &ns,
        "neigh add 10.7.0.1 lladdr 02:00:0a:07:00:01 dev va nud permanent\n\
         neigh add 10.7.0.2 lladdr 02:00:0a:07:00:02 dev va nud permanent\n",
    );
    let name = map_name("systemd_unit");
    let _cleanup = Cleanup(name.clone());
    // A 1 s watchdog; the loop stalls 2 s after READY=1 (test hook).
    let dropin = "[Service]\nWatchdogSec=1s\nEnvironment=NEIGH_TEST_STALL_MS=2000\n\
                  StandardError=append:/run/mirror.log\n";
    let sd = Systemd::boot(&ns, units(&name, dropin));
    let unit = format!("neigh-mirror@{name}.service");
    let props = "ActiveState,SubState,StatusText,MainPID,NRestarts,Result";

    // Active (running) only after READY=1, i.e. with the table in the map.
    let start = Instant::now();
    let running = loop {
        let p = sd.show(&unit, props);
        if p.get("SubState").map(String::as_str) == Some("running") {
            break p;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "never running: {p:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let s = stats(&name).expect("map");
    assert_eq!((s.state, s.map.len), (MirrorState::Synced, 2), "{s:?}");
    // Under the unit's sandbox too, the mirror records its pid namespace (systemd's), so
    // that the one systemd restarts there judges it by its pid.
    assert!(s.owner_pid_ns().is_some(), "{s:?}");
    assert_eq!(
        running["StatusText"], "2 entries, 1 resyncs, no overrun",
        "{running:?}"
    );

    // Least privilege: CAP_NET_ADMIN alone, no new privileges, a seccomp filter.
    let main_pid = &running["MainPID"];
    let status = sd.inside(&["cat", &format!("/proc/{main_pid}/status")]);
    for want in [
        "CapEff:\t0000000000001000",
        "CapBnd:\t0000000000001000",
        "NoNewPrivs:\t1",
        "Seccomp:\t2",
    ] {
        assert!(status.contains(want), "{want} in {status}");
    }

    // The loop stalls: no more pings, the watchdog kills it, systemd starts it again.
    let (first_owner, first_claims) = (s.map.owner, s.map.claims);
    let start = Instant::now();
    let mut results = std::collections::BTreeSet::new();
    loop {
        let p = sd.show(&unit, props);
        results.insert(p.get("Result").cloned().unwrap_or_default());
        if p.get("NRestarts").is_some_and(|n| n != "0") && p["SubState"] == "running" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no restart: {p:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(results.contains("watchdog"), "{results:?}");
    let start = Instant::now();
    while stats(&name).is_none_or(|s| s.map.owner == first_owner || s.state != MirrorState::Synced)
    {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "new mirror not synced"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let s = stats(&name).expect("map");
    assert_eq!(
        (s.map.claims, s.map.superseded),
        (first_claims + 1, false),
        "the restarted mirror takes the killed one's region over in place: {s:?}"
    );
    let log = sd.inside(&["cat", "/run/mirror.log"]);
    assert!(log.matches("in sync: 2 entries").count() >= 2, "{log}");
}

struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Workspace::unlink_shm(&self.0);
    }
}
