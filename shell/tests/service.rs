//! `neigh mirror` as a service: the sd_notify protocol against a socket the test listens
//! on (readiness only after the first dump, status lines, the watchdog ping from the
//! loop), the default logging, the Prometheus exposition (`map stat --prometheus` and
//! the `--metrics` HTTP endpoint) against `map stat -j` and the format's rules, and
//! `neigh map check`'s verdicts.

mod common;
mod mirror_support;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Netns, NEIGH};
use mirror_support::*;
use neigh::mirror::{MirrorState, MirrorStats, Region, StatWord};
use neigh::workspace::{Access, Workspace};

/// A `neigh mirror` process (killed on drop if still running) and its stderr file.
struct MirrorProcess {
    child: Child,
    stderr: PathBuf,
}

impl MirrorProcess {
    fn spawn(ns: &Netns, args: &[&str], env: &[(&str, &str)], tag: &str) -> Self {
        let stderr = std::env::temp_dir().join(format!(
            "neigh-test-service-{tag}-{}.log",
            std::process::id()
        ));
        let file = std::fs::File::create(&stderr).expect("stderr file");
        let mut cmd = ns.command(NEIGH);
        cmd.arg("mirror")
            .args(args)
            .env_remove("NEIGH_LOG")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file);
        for (k, v) in env {
            cmd.env(k, v);
        }
        MirrorProcess {
            child: cmd.spawn().expect("spawn neigh mirror"),
            stderr,
        }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
        let rc = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
    }

    /// SIGTERM, then the exit status and what it logged.
    fn stop(mut self) -> (i32, String) {
        self.signal(libc::SIGTERM);
        let status = self.child.wait().expect("wait");
        let log = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        (status.code().unwrap_or(-1), log)
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for MirrorProcess {
    fn drop(&mut self) {
        if self.alive() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_file(&self.stderr);
    }
}

/// The map's decoded header, if it can be joined.
fn stats(name: &str) -> Option<MirrorStats> {
    let region = Region::open(name, Access::ReadOnly).ok()?;
    let reader = region.reader().ok()?;
    Some(MirrorStats::read(&reader))
}

/// Waits until `mirror` has synced map `name`.
fn wait_synced(name: &str, mirror: &MirrorProcess) -> MirrorStats {
    let start = Instant::now();
    loop {
        if let Some(s) = stats(name) {
            if s.state == MirrorState::Synced && s.map.owner == mirror.pid() as u64 {
                return s;
            }
        }
        assert!(start.elapsed() < Duration::from_secs(20), "never synced");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The socket a service manager listens on (`NOTIFY_SOCKET`), removed on drop.
struct NotifySocket {
    sock: UnixDatagram,
    path: PathBuf,
}

impl NotifySocket {
    fn bind(tag: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "neigh-test-notify-{tag}-{}.sock",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        let sock = UnixDatagram::bind(&path).expect("bind notify socket");
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        NotifySocket { sock, path }
    }

    fn path(&self) -> &str {
        self.path.to_str().expect("utf-8 path")
    }

    /// The next message, if one comes within `timeout`.
    fn recv(&self, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            if let Ok(n) = self.sock.recv(&mut buf) {
                return Some(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
        None
    }

    /// Messages until one contains `what` (returned last); panics after `timeout`.
    fn until(&self, what: &str, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            if let Some(m) = self.recv(Duration::from_millis(100)) {
                let done = m.contains(what);
                seen.push(m);
                if done {
                    return seen;
                }
            }
        }
        panic!("no {what:?} within {timeout:?}; got {seen:?}");
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// `ip -batch` lines for `n` PERMANENT IPv4 entries on `dev` with MACs of variant `v`.
fn table(n: u32, dev: &str, v: u8) -> String {
    let mut script = String::new();
    for i in 0..n {
        let addr = std::net::Ipv4Addr::new(10, 20 + (i >> 16) as u8, (i >> 8) as u8, i as u8);
        let mac = test_mac(&addr.into(), v);
        let _ = writeln!(
            script,
            "neigh replace {addr} lladdr {} dev {dev} nud permanent",
            mac_text(&mac)
        );
    }
    script
}

#[test]
fn ready_only_after_the_first_dump_with_status_and_logs() {
    let Some(ns) = Netns::new("svc_ready") else {
        return;
    };
    const N: u32 = 50_000;
    quiet_veth(&ns, "va", "vb");
    ip_batch(&ns, &table(N, "va", 1));
    let name = map_name("svc_ready");
    let _cleanup = Cleanup(name.clone());
    let notify = NotifySocket::bind("ready");
    // The smallest event buffer: a burst of changes overruns it for sure.
    let mirror = MirrorProcess::spawn(
        &ns,
        &["--map", &name, "--capacity", "131072", "--rcvbuf", "1"],
        &[("NOTIFY_SOCKET", notify.path())],
        "ready",
    );

    // Before READY=1 the mirror says it is dumping, and the map is not there or not synced.
    let first = notify
        .recv(Duration::from_secs(10))
        .expect("a first message");
    assert!(
        first.contains("STATUS=dumping") && !first.contains("READY=1"),
        "{first}"
    );
    let early = stats(&name);
    assert!(
        early.is_none_or(|s| s.state != MirrorState::Synced),
        "synced before READY was even possible: {early:?}"
    );
    let before_ready = notify.until("READY=1", Duration::from_secs(30));
    // The moment READY=1 arrives, the whole table is in the map.
    let at_ready = stats(&name).expect("map at READY");
    assert_eq!(at_ready.state, MirrorState::Synced);
    assert_eq!(at_ready.map.len, u64::from(N), "entries at READY");
    let ready = before_ready.last().expect("READY message");
    assert!(
        ready.contains(&format!("STATUS={N} entries, 1 resyncs")),
        "{ready}"
    );
    assert!(
        before_ready[..before_ready.len() - 1]
            .iter()
            .all(|m| !m.contains("READY")),
        "{before_ready:?}"
    );

    // A burst of 50,000 changes overruns the event socket: logged, resynced, and the
    // status line says so.
    ip_batch(&ns, &table(N, "va", 2));
    let start = Instant::now();
    while stats(&name).is_some_and(|s| s.get(StatWord::Enobufs) == 0) {
        assert!(start.elapsed() < Duration::from_secs(20), "no overrun");
        std::thread::sleep(Duration::from_millis(20));
    }
    let seen = notify.until("overruns, last", Duration::from_secs(10));
    assert!(
        seen.last().is_some_and(|m| m.contains("STATUS=")),
        "{seen:?}"
    );

    let (code, log) = mirror.stop();
    assert_eq!(code, 0, "{log}");
    let stopping = notify.until("STOPPING=1", Duration::from_secs(5));
    assert!(!stopping.is_empty());
    for line in [
        &format!("mirror starting: map {name}, capacity 131072 entries, dev all, IPv4 and IPv6"),
        &format!("in sync: {N} entries in "),
        "event socket overrun (ENOBUFS)",
        "resync (generation 2)",
        "mirror stopped",
    ] {
        assert!(log.contains(line), "log lacks {line:?}:\n{log}");
    }

    // RUST_LOG lowers the level: a warn-level run says nothing about its start.
    let quiet = MirrorProcess::spawn(
        &ns,
        &["--map", &name, "--capacity", "131072"],
        &[("RUST_LOG", "warn")],
        "quiet",
    );
    wait_synced(&name, &quiet);
    let (code, log) = quiet.stop();
    assert_eq!(code, 0, "{log}");
    assert!(!log.contains("mirror starting"), "{log}");
}

#[test]
fn watchdog_pings_come_from_the_loop_and_stop_when_it_stalls() {
    let Some(ns) = Netns::new("svc_watchdog") else {
        return;
    };
    quiet_veth(&ns, "va", "vb");
    ip_batch(&ns, &table(10, "va", 1));
    let name = map_name("svc_watchdog");
    let _cleanup = Cleanup(name.clone());
    let notify = NotifySocket::bind("watchdog");
    // WATCHDOG_USEC 1 s: a ping every 500 ms; the test hook stalls the loop 2.5 s after
    // READY=1.
    let mut mirror = MirrorProcess::spawn(
        &ns,
        &["--map", &name],
        &[
            ("NOTIFY_SOCKET", notify.path()),
            ("WATCHDOG_USEC", "1000000"),
            ("NEIGH_TEST_STALL_MS", "2500"),
        ],
        "watchdog",
    );
    notify.until("READY=1", Duration::from_secs(20));
    let ready = Instant::now();
    let seen = notify.until("STATUS=stalled", Duration::from_secs(10));
    let pings = seen.iter().filter(|m| m.contains("WATCHDOG=1")).count();
    assert!(pings >= 3, "pings while the loop ran: {seen:?}");
    assert!(ready.elapsed() >= Duration::from_secs(2), "stalled early");
    // Stalled: two watchdog periods without a ping, while the process lives on.
    let mut after = Vec::new();
    let stalled = Instant::now();
    while stalled.elapsed() < Duration::from_secs(2) {
        if let Some(m) = notify.recv(Duration::from_millis(100)) {
            after.push(m);
        }
    }
    assert!(
        after.iter().all(|m| !m.contains("WATCHDOG")),
        "pinged while stalled: {after:?}"
    );
    assert!(mirror.alive(), "the process lives on");
    let s = stats(&name).expect("map");
    assert!(s.heartbeat_age_ms >= 1500, "heartbeat moved: {s:?}");
    let (code, log) = mirror.stop();
    assert_eq!(code, 0, "{log}");
}

/// The exposition's samples by metric name and labels, checked against the text
/// format's rules on the way (promtool is the stricter judge, when present).
type Samples = BTreeMap<String, f64>;

fn parse_exposition(text: &str) -> Samples {
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.chars()
                .enumerate()
                .all(|(i, c)| c.is_ascii_alphabetic() || c == '_' || (i > 0 && c.is_ascii_digit()))
    };
    let mut typed: BTreeMap<String, String> = BTreeMap::new();
    let mut helped = std::collections::BTreeSet::new();
    let mut samples = Samples::new();
    assert!(text.ends_with('\n'), "ends with a newline");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP name text");
            assert!(name_ok(name) && !help.is_empty(), "{line}");
            assert!(helped.insert(name.to_owned()), "second HELP: {line}");
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(name_ok(name), "{line}");
            assert!(
                ["counter", "gauge", "untyped", "summary", "histogram"].contains(&kind),
                "{line}"
            );
            assert!(
                !samples.keys().any(|k| k.split('{').next() == Some(name)),
                "TYPE after samples: {line}"
            );
            assert!(
                typed.insert(name.to_owned(), kind.to_owned()).is_none(),
                "second TYPE: {line}"
            );
        } else {
            assert!(!line.starts_with('#') && !line.is_empty(), "{line}");
            let (series, value) = line.rsplit_once(' ').expect("series value");
            let name = series.split('{').next().expect("name");
            assert!(name_ok(name), "{line}");
            let kind = typed.get(name).unwrap_or_else(|| panic!("no TYPE: {line}"));
            assert!(helped.contains(name), "no HELP: {line}");
            if kind == "counter" {
                assert!(name.ends_with("_total"), "counter without _total: {line}");
            }
            assert!(
                series.contains("{map=\"") && series.ends_with("\"}"),
                "map label: {line}"
            );
            let v: f64 = value.parse().unwrap_or_else(|_| panic!("value: {line}"));
            assert!(samples.insert(series.to_owned(), v).is_none(), "{line}");
        }
    }
    samples
}

/// `promtool check metrics` on `text`, if promtool is here (`PROMTOOL` or `PATH`); CI
/// (`NEIGH_REQUIRE_NETNS=1`) requires it.
fn promtool_check(text: &str) {
    let tool = std::env::var("PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let child = Command::new(&tool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            assert!(
                std::env::var("NEIGH_REQUIRE_NETNS").as_deref() != Ok("1"),
                "promtool ({tool}) needed: {e}"
            );
            eprintln!("SKIPPED promtool check metrics: {tool}: {e}");
            return;
        }
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Checks `samples` against `map stat -j`'s object `json`, field for field, by the
/// naming rule of `neigh map stat --prometheus` (see its help).
fn assert_matches_json(samples: &Samples, json: &serde_json::Value, name: &str) {
    let obj = json.as_object().expect("object");
    let label = format!("map=\"{name}\"");
    let mut used = std::collections::BTreeSet::new();
    for (key, value) in obj {
        let (series, want): (String, f64) = match key.as_str() {
            "map" => continue,
            "path" => (
                format!(
                    "neigh_mirror_info{{{label},path=\"{}\"}}",
                    value.as_str().expect("path")
                ),
                1.0,
            ),
            "stale" | "superseded" | "poisoned" => (
                format!("neigh_mirror_{key}{{{label}}}"),
                f64::from(u8::from(value.as_bool().expect("bool"))),
            ),
            "state" => {
                let state = value.as_str().expect("state");
                for s in ["starting", "synced", "resyncing", "stopped"] {
                    let series = format!("neigh_mirror_state{{{label},state=\"{s}\"}}");
                    let want = f64::from(u8::from(s == state));
                    assert_eq!(samples.get(&series), Some(&want), "{series}");
                    used.insert(series);
                }
                continue;
            }
            key => {
                let v = value.as_u64().unwrap_or_else(|| panic!("{key}: {value}")) as f64;
                let candidates = [
                    (format!("neigh_mirror_{key}_total"), v),
                    (format!("neigh_mirror_{key}"), v),
                    (
                        format!("neigh_mirror_{}_seconds", key.trim_end_matches("_ms")),
                        v / 1000.0,
                    ),
                    (
                        format!("neigh_mirror_{}s", key.trim_end_matches("_count")),
                        v,
                    ),
                ];
                candidates
                    .into_iter()
                    .map(|(m, v)| (format!("{m}{{{label}}}"), v))
                    .find(|(s, _)| samples.contains_key(s))
                    .unwrap_or_else(|| panic!("no metric for {key}: {samples:?}"))
            }
        };
        let got = samples[&series];
        if key == "heartbeat_age_ms" {
            // Read a moment apart.
            assert!((got - want).abs() < 2.0, "{key}: {got} vs {want}");
        } else {
            assert!((got - want).abs() < 1e-9, "{key}: {series} {got} vs {want}");
        }
        used.insert(series);
    }
    let extra: Vec<_> = samples.keys().filter(|k| !used.contains(*k)).collect();
    assert!(
        extra.is_empty(),
        "metrics without a stat -j field: {extra:?}"
    );
}

/// One HTTP exchange on a connected stream: writes `request`, reads to the end.
fn http(mut s: TcpStream, request: &[u8]) -> String {
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(request).expect("send request");
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("read response");
    String::from_utf8_lossy(&out).into_owned()
}

fn body(response: &str) -> &str {
    response.split_once("\r\n\r\n").expect("head and body").1
}

#[test]
fn metrics_match_stat_json_and_the_endpoint_holds_up() {
    let Some(ns) = Netns::new("svc_metrics") else {
        return;
    };
    quiet_veth(&ns, "va", "vb");
    ip_batch(&ns, &table(100, "va", 1));
    let name = map_name("svc_metrics");
    let _cleanup = Cleanup(name.clone());
    let mut mirror = MirrorProcess::spawn(
        &ns,
        &[
            "--map",
            &name,
            "--metrics",
            "9464",
            "--resync-interval",
            "0",
        ],
        &[],
        "metrics",
    );
    wait_synced(&name, &mirror);

    // The textfile collector's output: valid exposition text, equal to stat -j.
    let (code, json, _) = map_cmd(&["stat", &name, "-j"]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&json).expect("stat -j");
    let (code, text, _) = map_cmd(&["stat", &name, "--prometheus"]);
    assert_eq!(code, 0);
    promtool_check(&text);
    let samples = parse_exposition(&text);
    assert_matches_json(&samples, &json, &name);
    assert_eq!(
        samples[&format!("neigh_mirror_entries{{map=\"{name}\"}}")],
        100.0
    );

    // The endpoint, from inside the namespace: 100 concurrent scrapes, all answered with
    // the same series; then an oversized request, refused, and the mirror unharmed.
    let (answers, oversized, not_found, wrong_method, idle, behind) = ns.run_inside(|| {
        let connect = || TcpStream::connect("127.0.0.1:9464").expect("connect");
        let conns: Vec<TcpStream> = (0..100).map(|_| connect()).collect();
        let scrapes: Vec<_> = conns
            .into_iter()
            .map(|s| {
                std::thread::spawn(move || {
                    http(
                        s,
                        b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n",
                    )
                })
            })
            .collect();
        let answers: Vec<String> = scrapes
            .into_iter()
            .map(|t| t.join().expect("scrape"))
            .collect();
        let mut huge = b"GET /metrics HTTP/1.1\r\n".to_vec();
        while huge.len() < 32 << 10 {
            huge.extend_from_slice(b"X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        let oversized = http(connect(), &huge);
        // Clients that never finish their request hold every worker until the request
        // deadline: they get no answer, and a scrape behind them waits, then is served.
        let idle: Vec<TcpStream> = (0..4)
            .map(|_| {
                let mut s = connect();
                s.write_all(b"GET /metrics HTTP/1.1\r\n")
                    .expect("partial head");
                s
            })
            .collect();
        let behind = http(connect(), b"GET /metrics HTTP/1.1\r\n\r\n");
        let idle: Vec<String> = idle
            .into_iter()
            .map(|mut s| {
                let mut out = String::new();
                let _ = s.read_to_string(&mut out);
                out
            })
            .collect();
        let not_found = http(connect(), b"GET / HTTP/1.1\r\n\r\n");
        let wrong_method = http(connect(), b"POST /metrics HTTP/1.1\r\n\r\n");
        (answers, oversized, not_found, wrong_method, idle, behind)
    });
    assert_eq!(answers.len(), 100);
    for a in &answers {
        assert!(a.starts_with("HTTP/1.1 200 OK\r\n"), "{a}");
        assert!(a.contains("Content-Type: text/plain; version=0.0.4"), "{a}");
        let got = parse_exposition(body(a));
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            samples.keys().collect::<Vec<_>>()
        );
    }
    promtool_check(body(&answers[0]));
    assert!(
        oversized.starts_with("HTTP/1.1 431 "),
        "oversized: {oversized}"
    );
    assert!(not_found.starts_with("HTTP/1.1 404 "), "{not_found}");
    assert!(idle.iter().all(String::is_empty), "{idle:?}");
    assert!(behind.starts_with("HTTP/1.1 200 OK\r\n"), "{behind}");
    assert!(wrong_method.starts_with("HTTP/1.1 405 "), "{wrong_method}");

    // A second mirror cannot take the port: it fails before it touches a map.
    let other = map_name("svc_metrics_other");
    let o = ns
        .command(NEIGH)
        .args(["mirror", "--map", &other, "--metrics", "9464"])
        .stdin(Stdio::null())
        .output()
        .expect("second mirror");
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--metrics 127.0.0.1:9464") && err.contains("in use"),
        "{err}"
    );
    assert!(stats(&other).is_none(), "the second mirror made its map");

    // The mirror still runs, applies events, and passes its health check.
    assert!(mirror.alive());
    ns.ip_ok("neigh add 10.99.0.1 lladdr 02:00:00:00:99:01 dev va nud permanent");
    let start = Instant::now();
    while stats(&name).is_none_or(|s| s.map.len != 101) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "event not applied"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (code, out, _) = map_cmd(&["check", &name]);
    assert_eq!(code, 0, "{out}");
    let (code, log) = mirror.stop();
    assert_eq!(code, 0, "{log}");
    assert!(
        log.contains("serving metrics at http://127.0.0.1:9464/metrics"),
        "{log}"
    );
}

#[test]
fn map_check_names_each_failure() {
    let Some(ns) = Netns::new("svc_check") else {
        return;
    };
    quiet_veth(&ns, "va", "vb");
    ip_batch(&ns, &table(200, "va", 1));
    let check = |name: &str, extra: &[&str]| {
        let mut args = vec!["check", name];
        args.extend_from_slice(extra);
        let (code, out, _) = map_cmd(&args);
        assert_eq!(out.lines().count(), 1, "one line: {out}");
        (code, out)
    };

    // No map.
    let (code, out) = check("neigh-test-svc-no-such-map", &[]);
    assert_eq!(code, 1);
    assert!(out.contains("no such map"), "{out}");

    // Healthy, then stopped cleanly.
    let name = map_name("svc_check");
    let _cleanup = Cleanup(name.clone());
    let mirror = MirrorProcess::spawn(&ns, &["--map", &name], &[], "check");
    wait_synced(&name, &mirror);
    let (code, out) = check(&name, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with(&format!("{name}: ok: synced 200 entries")),
        "{out}"
    );
    let (code, _) = mirror.stop();
    assert_eq!(code, 0);
    let (code, out) = check(&name, &[]);
    assert_eq!(code, 1);
    assert!(out.contains("writer stopped"), "{out}");

    // Hung (SIGSTOP): the process exists, its heartbeat ages past --max-age.
    let mirror = MirrorProcess::spawn(&ns, &["--map", &name], &[], "check");
    wait_synced(&name, &mirror);
    mirror.signal(libc::SIGSTOP);
    std::thread::sleep(Duration::from_millis(700));
    let (code, out) = check(&name, &["--max-age", "300"]);
    assert_eq!(code, 1);
    assert!(out.contains("heartbeat stale"), "{out}");
    let (code, out) = check(&name, &["--max-age", "60000"]);
    assert_eq!(code, 0, "a generous --max-age passes: {out}");

    // Killed: the writer's process is gone (before its heartbeat even goes stale).
    mirror.signal(libc::SIGKILL);
    drop(mirror);
    let (code, out) = check(&name, &["--max-age", "60000"]);
    assert_eq!(code, 1);
    assert!(out.contains("writer gone"), "{out}");

    // Full: a map sized for fewer entries than the table refuses inserts.
    let mirror = MirrorProcess::spawn(&ns, &["--map", &name, "--capacity", "16"], &[], "check");
    let s = wait_synced(&name, &mirror);
    assert!(s.get(StatWord::Full) > 0, "{s:?}");
    let (code, out) = check(&name, &[]);
    assert_eq!(code, 1);
    assert!(
        out.contains("map full") && out.contains("inserts refused"),
        "{out}"
    );
    drop(mirror);

    // Not yet synced: a live writer (this process) that has not finished its first dump.
    let starting = map_name("svc_check_starting");
    let _cleanup2 = Cleanup(starting.clone());
    let region = Region::create(
        Some(&starting),
        &neigh_core::map::MapParams::for_entries(64),
        0,
        &Default::default(),
    )
    .expect("create region");
    let map = region.writer().expect("writable").expect("map");
    map.set_owner(u64::from(std::process::id()));
    map.stat_store(StatWord::State.index(), MirrorState::Starting.as_u64());
    map.heartbeat(neigh::mirror::monotonic_ms());
    let (code, out) = check(&starting, &[]);
    assert_eq!(code, 1);
    assert!(out.contains("not yet synced"), "{out}");

    // Stale: `map stat` fails with 3, `--prometheus` says it in the figures and exits 0
    // (a textfile collector's `... > F && mv F` still publishes it).
    map.stat_store(StatWord::State.index(), MirrorState::Synced.as_u64());
    map.heartbeat(neigh::mirror::monotonic_ms().saturating_sub(60_000));
    let (code, _, _) = map_cmd(&["stat", &starting]);
    assert_eq!(code, 3);
    let (code, text, _) = map_cmd(&["stat", &starting, "--prometheus"]);
    assert_eq!(code, 0);
    let samples = parse_exposition(&text);
    assert_eq!(
        samples[&format!("neigh_mirror_stale{{map=\"{starting}\"}}")],
        1.0
    );
    let (code, out) = check(&starting, &[]);
    assert_eq!(code, 1);
    assert!(out.contains("heartbeat stale"), "{out}");
}

struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Workspace::unlink_shm(&self.0);
    }
}

#[test]
fn without_cap_net_admin_only_resolution_falls_back() {
    let Some(ns) = Netns::new("svc_nocap") else {
        return;
    };
    quiet_veth(&ns, "va", "vb");
    ns.ip_ok("addr add 10.3.0.1/24 dev va");
    ip_batch(&ns, &table(10, "va", 1));
    let name = map_name("svc_nocap");
    let _cleanup = Cleanup(name.clone());
    let notify = NotifySocket::bind("nocap");
    // No capability at all, as with the unit's CapabilityBoundingSet emptied.
    let stderr = std::env::temp_dir().join(format!("neigh-test-nocap-{}.log", std::process::id()));
    let child = ns
        .command("setpriv")
        .args([
            "--bounding-set=-all",
            "--inh-caps=-all",
            "--",
            NEIGH,
            "mirror",
        ])
        .args(["--map", &name, "--ring", "64"])
        .env("NOTIFY_SOCKET", notify.path())
        .env_remove("NEIGH_LOG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).expect("stderr file"))
        .spawn()
        .expect("spawn setpriv neigh mirror");
    let mirror = MirrorProcess { child, stderr };
    // It dumps, follows the table and says it is ready: none of that needs a capability.
    notify.until("READY=1", Duration::from_secs(20));
    ns.ip_ok("neigh add 10.9.9.9 lladdr 02:00:00:09:09:09 dev va nud permanent");
    let start = Instant::now();
    while stats(&name).is_none_or(|s| s.map.len != 11) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "event not applied"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // A resolution request: NTF_USE is refused (EPERM), the UDP datagram goes instead.
    let poster = Region::open(&name, Access::ReadWrite).expect("join read-write");
    let ring = poster.ring().expect("ring").expect("valid ring");
    let va = links(&ns)["va"];
    ring.post(&neigh_core::ring::ResolveRequest {
        ifindex: va,
        addr: std::net::Ipv4Addr::new(10, 3, 0, 2).into(),
    })
    .expect("ring has room");
    let start = Instant::now();
    while stats(&name).is_none_or(|s| s.get(StatWord::RequestsServed) == 0) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "request not served"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(poster);
    let (code, log) = mirror.stop();
    assert_eq!(code, 0, "{log}");
    assert!(
        log.contains("no CAP_NET_ADMIN; falling back to TTL-1 UDP datagrams"),
        "{log}"
    );
    // What the capability is for in the CLI: changing the table.
    let o = ns
        .command("setpriv")
        .args(["--bounding-set=-all", "--inh-caps=-all", "--", NEIGH])
        .args([
            "add",
            "10.3.0.5",
            "lladdr",
            "02:00:00:00:00:05",
            "dev",
            "va",
        ])
        .output()
        .expect("run neigh add");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Operation not permitted"),
        "{o:?}"
    );
}
