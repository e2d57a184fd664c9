//! A mirror restarted on its map's name is invisible to the map's readers: a C reader
//! (examples/c/test_neigh.c `watch`) that joined once, before the first restart, sees
//! what the kernel changes across SIGKILL (or SIGTERM) and restart cycles within 1 s,
//! while entries churn, and never a torn entry. A restart with another capacity marks
//! the old region superseded. A mirror stopped with SIGSTOP and replaced meanwhile exits
//! with an error once it resumes, and leaves the new mirror's region alone.

mod c_support;
mod common;
mod mirror_support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use c_support::build_c;
use common::{Netns, NEIGH};
use mirror_support::{
    assert_converges, ip_batch, links, map_name, quiet_veth, slow_timers, wait_synced,
};
use neigh::mirror::{MirrorStats, PidNs, Region};
use neigh::workspace::{Access, Workspace};

/// Addresses 10.9.1.1..=CHURN are replaced and deleted over and over while mirrors restart.
const CHURN: u32 = 120;

/// The C reader, `test_neigh watch NAME IFINDEX`, driven line by line; killed on drop.
struct Watcher {
    child: Child,
    stdin: Option<ChildStdin>,
    out: BufReader<ChildStdout>,
}

impl Watcher {
    fn start(exe: &Path, name: &str, ifindex: u32) -> Self {
        let mut child = std::process::Command::new(exe)
            .args(["watch", name, &ifindex.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run test_neigh watch");
        let stdin = child.stdin.take();
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        Watcher { child, stdin, out }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{line}").expect("write to test_neigh");
        stdin.flush().expect("flush");
    }

    /// Sends a command that answers with one line, and returns that line.
    fn ask(&mut self, line: &str) -> String {
        self.send(line);
        let mut reply = String::new();
        self.out.read_line(&mut reply).expect("read test_neigh");
        reply.trim_end().to_owned()
    }

    /// `status`, as numbers by name.
    fn status(&mut self) -> HashMap<String, u64> {
        let line = self.ask("status");
        let fields: HashMap<String, u64> = line
            .split_whitespace()
            .filter_map(|f| f.split_once('='))
            .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
            .collect();
        assert!(fields.contains_key("claims"), "{line}");
        fields
    }

    /// Ends the input; asserts a clean exit (nothing torn, every expectation met) and
    /// returns the summary line.
    fn finish(mut self) -> String {
        drop(self.stdin.take());
        let mut rest = String::new();
        self.out.read_to_string(&mut rest).expect("read test_neigh");
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        let status = self.child.wait().expect("wait test_neigh");
        assert!(
            status.success(),
            "test_neigh watch: {status}: {rest}\n{err}"
        );
        rest.trim_end().to_owned()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `neigh mirror` process (`ip netns exec` execs it: the child's pid is the mirror's),
/// killed on drop.
struct MirrorProcess(Child);

impl MirrorProcess {
    fn spawn(ns: &Netns, name: &str, capacity: u32) -> Self {
        let child = ns
            .command(NEIGH)
            .args(["mirror", "--map", name, "--capacity", &capacity.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn neigh mirror");
        MirrorProcess(child)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
        let rc = unsafe { libc::kill(self.pid() as i32, sig) };
        assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
    }

    /// Waits for the exit (up to `limit`); returns the exit code (-1 for a signal) and
    /// stderr.
    fn wait(&mut self, limit: Duration) -> (i32, String) {
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.0.try_wait().expect("wait mirror") {
                break s;
            }
            assert!(
                start.elapsed() < limit,
                "the mirror did not exit in {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut err = String::new();
        if let Some(mut e) = self.0.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        (status.code().unwrap_or(-1), err)
    }
}

impl Drop for MirrorProcess {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Removes the named region when the test ends.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Workspace::unlink_shm(&self.0);
    }
}

/// 02:VV:0a:09:C:D for 10.9.C.D: the MAC scheme the C reader checks for torn reads.
fn mac(v: u32, c: u32, d: u32) -> String {
    format!("02:{:02x}:0a:09:{c:02x}:{d:02x}", v & 0xff)
}

/// Sets its flag when dropped.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Replaces (and now and then deletes) 10.9.1.1..=CHURN until `stop`; returns the rounds.
fn churn(ns: &Netns, stop: &AtomicBool) -> u32 {
    let mut round = 0u32;
    while !stop.load(Ordering::Relaxed) {
        let mut script = String::new();
        for i in 1..=CHURN {
            if (round + i) % 5 == 0 {
                script.push_str(&format!("neigh del 10.9.1.{i} dev va\n"));
            } else {
                script.push_str(&format!(
                    "neigh replace 10.9.1.{i} lladdr {} dev va nud permanent\n",
                    mac(round + i, 1, i)
                ));
            }
        }
        ip_batch(ns, &script);
        std::thread::sleep(Duration::from_millis(5));
        round += 1;
    }
    round
}

/// The body of the restart tests: `cycles` times, stop the mirror with `sig`, change
/// 10.9.200.1 while no mirror runs, start another, and the C reader that joined before
/// the first cycle must see the change within 1 s (through the new mirror's dump), then a
/// change of 10.9.200.2 within 1 s (through its events), with the same handle, the
/// region never superseded, and the claims counting the restarts. Entries churn all the
/// while; nothing read may be torn, and the map ends equal to the kernel's table.
fn restarts_are_invisible(test: &str, sig: i32, cycles: u32) {
    let exe = build_c("test_neigh");
    let Some(ns) = Netns::new(test) else {
        return;
    };
    quiet_veth(&ns, "va", "vb");
    slow_timers(&ns, "va");
    let va = links(&ns)["va"];
    for d in [1, 2] {
        ns.ip_ok(&format!(
            "neigh replace 10.9.200.{d} lladdr {} dev va nud permanent",
            mac(0, 200, d)
        ));
    }
    let name = map_name(test);
    let _cleanup = Cleanup(name.clone());
    let mut mirror = MirrorProcess::spawn(&ns, &name, 1024);
    wait_synced(&name, mirror.pid());
    let mut w = Watcher::start(&exe, &name, va);
    let churned: Vec<String> = (1..=CHURN)
        .map(|i| format!("10.9.1.{i}"))
        .chain(["10.9.200.1".into(), "10.9.200.2".into()])
        .collect();
    w.send(&format!("churn {}", churned.join(" ")));
    let claims = w.status()["claims"];
    let mut slowest = [0u64; 2];
    let stop = AtomicBool::new(false);
    let rounds = std::thread::scope(|s| {
        let churner = s.spawn(|| churn(&ns, &stop));
        // Stops the churn also when an assertion fails: the scope waits for it.
        let _stop = StopOnDrop(&stop);
        for c in 1..=cycles {
            mirror.signal(sig);
            let (code, err) = mirror.wait(Duration::from_secs(5));
            if sig == libc::SIGTERM {
                assert_eq!(code, 0, "cycle {c}: clean stop: {err}");
            }
            let mac1 = mac(c, 200, 1);
            ns.ip_ok(&format!(
                "neigh replace 10.9.200.1 lladdr {mac1} dev va nud permanent"
            ));
            mirror = MirrorProcess::spawn(&ns, &name, 1024);
            let seen = w.ask(&format!("expect 10.9.200.1 {mac1} 1000"));
            assert!(seen.starts_with("seen"), "cycle {c}: {seen}");
            let owned = wait_synced(&name, mirror.pid());
            // A mirror of this pid namespace: the next one judges it by its pid, and
            // takes its region over as soon as it is gone.
            assert_eq!(owned.owner_pid_ns(), PidNs::current(), "cycle {c}");
            let mac2 = mac(c, 200, 2);
            ns.ip_ok(&format!(
                "neigh replace 10.9.200.2 lladdr {mac2} dev va nud permanent"
            ));
            let seen2 = w.ask(&format!("expect 10.9.200.2 {mac2} 1000"));
            assert!(seen2.starts_with("seen"), "cycle {c}: {seen2}");
            for (slow, line) in slowest.iter_mut().zip([&seen, &seen2]) {
                let ms = line.rsplit(' ').next().and_then(|m| m.parse().ok());
                *slow = (*slow).max(ms.unwrap_or(0));
            }
            let st = w.status();
            assert_eq!(st["superseded"], 0, "cycle {c}: {st:?}");
            assert_eq!(st["pid"], u64::from(mirror.pid()), "cycle {c}: {st:?}");
            assert_eq!(st["claims"], claims + u64::from(c), "cycle {c}: {st:?}");
        }
        stop.store(true, Ordering::Relaxed);
        churner.join().expect("churn thread")
    });
    assert!(rounds > 0, "the churn ran");
    if let Some(status) = mirror.0.try_wait().expect("wait mirror") {
        let (_, err) = mirror.wait(Duration::ZERO);
        panic!("the last mirror exited ({status}): {err}");
    }
    let region = Region::open(&name, Access::ReadOnly).expect("join");
    let converged = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert_converges(&ns, &region, Duration::from_secs(10))
    }));
    let entries = converged.unwrap_or_else(|e| {
        let stats = MirrorStats::read(&region.reader().expect("reader"));
        mirror.signal(libc::SIGKILL);
        let (_, err) = mirror.wait(Duration::from_secs(5));
        panic!(
            "{}\nlast mirror: heartbeat {} ms old, state {:?}, stderr: {err}",
            e.downcast_ref::<String>().map_or("", String::as_str),
            stats.heartbeat_age_ms,
            stats.state
        )
    });
    let summary = w.finish();
    assert!(summary.contains(" 0 torn"), "{summary}");
    eprintln!(
        "{cycles} restarts: slowest dump-path view {} ms, event-path {} ms; {rounds} churn \
         rounds; {entries} entries at the end; reader: {summary}",
        slowest[0], slowest[1]
    );
}

#[test]
fn a_c_reader_keeps_its_handle_across_sigkill_restarts_under_churn() {
    restarts_are_invisible("restart-kill", libc::SIGKILL, 20);
}

#[test]
fn a_c_reader_keeps_its_handle_across_clean_restarts() {
    restarts_are_invisible("restart-term", libc::SIGTERM, 5);
}

/// A mirror restarted with another capacity cannot reuse the region: it marks the old one
/// superseded (the C reader still joined to it sees that) and publishes a new one of the
/// new size under the name.
#[test]
fn a_capacity_change_supersedes_the_old_region() {
    let exe = build_c("test_neigh");
    let Some(ns) = Netns::new("restart-capacity") else {
        return;
    };
    quiet_veth(&ns, "va", "vb");
    ns.ip_ok("neigh replace 10.9.3.1 lladdr 02:00:0a:09:03:01 dev va nud permanent");
    let va = links(&ns)["va"];
    let name = map_name("restart-capacity");
    let _cleanup = Cleanup(name.clone());
    let mut first = MirrorProcess::spawn(&ns, &name, 1024);
    let before = wait_synced(&name, first.pid());
    let mut w = Watcher::start(&exe, &name, va);
    assert_eq!(w.status()["superseded"], 0);
    first.signal(libc::SIGTERM);
    assert_eq!(first.wait(Duration::from_secs(5)).0, 0);
    let second = MirrorProcess::spawn(&ns, &name, 4096);
    let after = wait_synced(&name, second.pid());
    assert!(after.map.capacity > before.map.capacity, "{after:?}");
    assert!(!after.map.superseded);
    let st = w.status();
    assert_eq!(st["superseded"], 1, "{st:?}");
    assert_eq!(st["capacity"], before.map.capacity, "{st:?}");
    let region = Region::open(&name, Access::ReadOnly).expect("join");
    assert_converges(&ns, &region, Duration::from_secs(5));
    w.finish();
}

/// A mirror stopped (SIGSTOP) long enough for its heartbeat to go stale is replaced by a
/// second one, which may not write into the region the first may resume writing: it
/// supersedes it and creates a new one. Resumed (SIGCONT), the first finds its claim
/// taken and exits with an error; the second's region stays its own and follows the
/// kernel.
#[test]
fn a_stopped_mirror_replaced_meanwhile_exits_when_it_resumes() {
    let exe = build_c("test_neigh");
    let Some(ns) = Netns::new("restart-sigstop") else {
        return;
    };
    quiet_veth(&ns, "va", "vb");
    ns.ip_ok("neigh replace 10.9.4.1 lladdr 02:00:0a:09:04:01 dev va nud permanent");
    let va = links(&ns)["va"];
    let name = map_name("restart-sigstop");
    let _cleanup = Cleanup(name.clone());
    let mut first = MirrorProcess::spawn(&ns, &name, 1024);
    wait_synced(&name, first.pid());
    let mut w = Watcher::start(&exe, &name, va);
    first.signal(libc::SIGSTOP);
    // Stale after three 500 ms heartbeat periods, counted as at least 3 s.
    std::thread::sleep(Duration::from_millis(3300));
    let mut second = MirrorProcess::spawn(&ns, &name, 1024);
    let owned = wait_synced(&name, second.pid());
    assert_eq!(w.status()["superseded"], 1);
    first.signal(libc::SIGCONT);
    let (code, err) = first.wait(Duration::from_secs(3));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("taken over by another mirror") && err.contains(&second.pid().to_string()),
        "{err}"
    );
    // The second mirror's region is untouched by the first and goes on following the
    // kernel.
    ns.ip_ok("neigh replace 10.9.4.2 lladdr 02:00:0a:09:04:02 dev va nud permanent");
    let mut w2 = Watcher::start(&exe, &name, va);
    let seen = w2.ask("expect 10.9.4.2 02:00:0a:09:04:02 1000");
    assert!(seen.starts_with("seen"), "{seen}");
    let st = w2.status();
    assert_eq!(
        (st["pid"], st["claims"], st["superseded"]),
        (u64::from(second.pid()), owned.map.claims, 0),
        "{st:?}"
    );
    w2.finish();
    w.finish();
    second.signal(libc::SIGTERM);
    assert_eq!(second.wait(Duration::from_secs(5)).0, 0);
}

/// A writer killed in the middle of its writes (a C program inserting and removing
/// entries as fast as it can, SIGKILLed after a few milliseconds) leaves writer locks
/// held and runs half moved. The next mirror takes the region over in place, repairs it
/// and resyncs: a C reader joined all along keeps finding the kernel's entries, never a
/// torn one, and the map ends equal to the kernel's table each time.
#[test]
fn a_mirror_repairs_what_a_writer_killed_mid_write_left() {
    let exe = build_c("test_neigh");
    let Some(ns) = Netns::new("restart-repair") else {
        return;
    };
    quiet_veth(&ns, "va", "vb");
    let va = links(&ns)["va"];
    let mut script = String::new();
    for d in 1..=40 {
        script.push_str(&format!(
            "neigh replace 10.9.5.{d} lladdr {} dev va nud permanent\n",
            mac(0, 5, d)
        ));
    }
    ip_batch(&ns, &script);
    let name = map_name("restart-repair");
    let _cleanup = Cleanup(name.clone());
    let mut mirror = MirrorProcess::spawn(&ns, &name, 1024);
    wait_synced(&name, mirror.pid());
    let mut w = Watcher::start(&exe, &name, va);
    let watched: Vec<String> = (0..1024u32)
        .map(|i| format!("10.8.{}.{}", i >> 8, i & 0xff))
        .chain((1..=40).map(|d| format!("10.9.5.{d}")))
        .collect();
    w.send(&format!("churn {}", watched.join(" ")));
    let mut repairs = Vec::new();
    for round in 0..10u32 {
        mirror.signal(libc::SIGTERM);
        assert_eq!(mirror.wait(Duration::from_secs(5)).0, 0);
        let mut hammer = std::process::Command::new(&exe)
            .args(["hammer", &name, &va.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .expect("run test_neigh hammer");
        let mut started = String::new();
        BufReader::new(hammer.stdout.take().expect("stdout"))
            .read_line(&mut started)
            .expect("read hammer");
        assert_eq!(started.trim(), "hammering");
        std::thread::sleep(Duration::from_millis(2 + u64::from(round) * 3));
        hammer.kill().expect("kill hammer");
        hammer.wait().expect("wait hammer");
        mirror = MirrorProcess::spawn(&ns, &name, 1024);
        wait_synced(&name, mirror.pid());
        let want = mac(0, 5, 1 + round);
        let seen = w.ask(&format!("expect 10.9.5.{} {want} 1000", 1 + round));
        assert!(seen.starts_with("seen"), "round {round}: {seen}");
        let region = Region::open(&name, Access::ReadOnly).expect("join");
        assert_converges(&ns, &region, Duration::from_secs(5));
        mirror.signal(libc::SIGTERM);
        let (code, err) = mirror.wait(Duration::from_secs(5));
        assert_eq!(code, 0, "{err}");
        repairs.extend(
            err.lines()
                .filter(|l| l.contains("repaired"))
                .map(str::to_owned),
        );
        mirror = MirrorProcess::spawn(&ns, &name, 1024);
        wait_synced(&name, mirror.pid());
    }
    let summary = w.finish();
    assert!(summary.contains(" 0 torn"), "{summary}");
    assert!(
        repairs.len() >= 5,
        "a killed writer left something to repair in only {} of 10 rounds: {repairs:?}",
        repairs.len()
    );
    eprintln!("reader: {summary}; repairs:\n{}", repairs.join("\n"));
}
