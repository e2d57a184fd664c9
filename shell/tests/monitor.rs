//! `neigh monitor` against `ip monitor neigh` for the same changes, and the spoofing test:
//! a forged RTM_NEWNEIGH sent by another process to neigh's port id must be ignored.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{forged_newneigh, Netns};
use neigh::netlink::{RouteSocket, SocketOptions};

/// A running monitor whose stdout (and stderr) lines are collected by threads.
struct Running {
    child: Child,
    out: Arc<Mutex<Vec<String>>>,
    err: Arc<Mutex<Vec<String>>>,
}

fn collect(r: impl Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            sink.lock().expect("lock").push(line);
        }
    });
    lines
}

impl Running {
    fn start(ns: &Netns, prog: &str, args: &[&str]) -> Self {
        let mut child = ns
            .command(prog)
            .args(args)
            .env("NEIGH_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn monitor");
        let out = collect(child.stdout.take().expect("stdout"));
        let err = collect(child.stderr.take().expect("stderr"));
        Self { child, out, err }
    }

    fn lines(&self) -> Vec<String> {
        self.out.lock().expect("lock").clone()
    }

    fn errors(&self) -> Vec<String> {
        self.err.lock().expect("lock").clone()
    }

    /// Waits until some stdout line contains `needle`; panics after 10 s.
    fn wait_for(&self, needle: &str) {
        let t = Instant::now();
        while !self.lines().iter().any(|l| l.contains(needle)) {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "no line with {needle:?}: {:?} {:?}",
                self.lines(),
                self.errors()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The port id neigh logs once subscribed (NEIGH_LOG=info).
    fn port_id(&self) -> u32 {
        let t = Instant::now();
        loop {
            let found = self.errors().iter().find_map(|l| {
                l.split("netlink port id ")
                    .nth(1)
                    .and_then(|p| p.trim().parse::<u32>().ok())
            });
            if let Some(p) = found {
                return p;
            }
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "neigh monitor never got ready: {:?}",
                self.errors()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `ip monitor` (which prints nothing when ready) sees events: adds sentinel
/// entries until one shows up.
fn sync_ip(ns: &Netns, ip: &Running) {
    for i in 1..100 {
        ns.ip_ok(&format!(
            "neigh replace 10.9.9.{i} lladdr 02:00:00:00:09:09 dev va"
        ));
        thread::sleep(Duration::from_millis(50));
        if ip.lines().iter().any(|l| l.starts_with("10.9.9.")) {
            return;
        }
    }
    panic!("ip monitor never printed anything");
}

/// ip's text line rebuilt from one `monitor -j` object, key by key in ip's order.
fn text_from_json(v: &serde_json::Value) -> String {
    let mut s = String::new();
    if v.get("deleted") == Some(&serde_json::Value::Bool(true)) {
        s.push_str("Deleted ");
    }
    if v.get("miss").is_some() {
        s.push_str("miss ");
    }
    if let Some(d) = v["dst"].as_str() {
        s += &format!("{d} ");
    }
    if let Some(d) = v["dev"].as_str() {
        s += &format!("dev {d} ");
    }
    if let Some(l) = v["lladdr"].as_str() {
        s += &format!("lladdr {l} ");
    }
    for flag in ["router", "proxy", "extern_learn", "offload", "managed"] {
        if v.get(flag).is_some_and(|f| f.is_null()) {
            s += &format!("{flag} ");
        }
    }
    for st in v["state"].as_array().into_iter().flatten() {
        s += &format!("{} ", st.as_str().expect("state string"));
    }
    if let Some(p) = v["protocol"].as_str() {
        s += &format!("proto {p} ");
    }
    s
}

#[test]
fn monitor_prints_what_ip_monitor_prints() {
    let Some(ns) = Netns::new("monitor") else {
        return;
    };
    ns.veth("va", "vb");
    ns.ip_ok("addr add 10.0.0.254/24 dev va");
    let sysctl = ns
        .command("sysctl")
        .args(["-qw", "net.ipv4.neigh.va.app_solicit=1"])
        .output()
        .expect("sysctl");
    assert!(sysctl.status.success());

    let ip = Running::start(&ns, "ip", &["monitor", "neigh"]);
    let ours = Running::start(&ns, common::NEIGH, &["monitor"]);
    let ours_json = Running::start(&ns, common::NEIGH, &["monitor", "-j"]);
    ours.port_id();
    ours_json.port_id();
    sync_ip(&ns, &ip);

    for cmd in [
        "neigh add 10.5.5.5 lladdr 02:00:00:00:00:55 dev va",
        "neigh change 10.5.5.5 lladdr 02:00:00:00:00:56 dev va nud stale",
        "neigh del 10.5.5.5 dev va",
        "neigh add 2001:db8::55 lladdr 02:00:00:00:00:55 dev va router",
        "neigh replace 2001:db8::55 lladdr 02:00:00:00:00:57 dev va nud reachable protocol static",
        "neigh del 2001:db8::55 dev va",
        "neigh add 10.5.5.6 lladdr 02:00:00:00:00:58 dev va extern_learn",
        "neigh add proxy 10.5.5.7 dev va",
        "neigh del proxy 10.5.5.7 dev va",
    ] {
        ns.ip_ok(cmd);
    }
    // A resolution the kernel asks user space for (app_solicit): a "miss" event.
    let udp = ns
        .command("bash")
        .args(["-c", "echo x > /dev/udp/10.0.0.205/9"])
        .output()
        .expect("bash");
    assert!(
        udp.status.success(),
        "{}",
        String::from_utf8_lossy(&udp.stderr)
    );
    // An interface created after the monitors started: ip names it (it asks the kernel
    // for an index it does not know), and so must neigh.
    ns.veth("vc", "vd");
    ns.ip_ok("neigh add 10.6.6.6 lladdr 02:00:00:00:00:66 dev vc");
    ns.ip_ok("neigh add 10.5.5.99 lladdr 02:00:00:00:00:99 dev va");
    for m in [&ip, &ours, &ours_json] {
        m.wait_for("10.5.5.99");
    }

    // Everything from the first scenario event to the end marker, in order.
    let window = |lines: Vec<String>| -> Vec<String> {
        let start = lines
            .iter()
            .position(|l| l.contains("10.5.5.5"))
            .expect("first event");
        let end = lines
            .iter()
            .position(|l| l.contains("10.5.5.99"))
            .expect("end marker");
        lines[start..=end].to_vec()
    };
    let theirs = window(ip.lines());
    assert!(
        theirs.iter().any(|l| l.starts_with("Deleted ")),
        "{theirs:?}"
    );
    assert!(theirs.iter().any(|l| l.starts_with("miss ")), "{theirs:?}");
    assert!(
        theirs.iter().any(|l| l.starts_with("10.6.6.6 dev vc ")),
        "{theirs:?}"
    );
    assert_eq!(window(ours.lines()), theirs);

    let json: Vec<String> = window(ours_json.lines())
        .iter()
        .map(|l| text_from_json(&serde_json::from_str(l).expect("one JSON object per line")))
        .collect();
    assert_eq!(json, theirs);
}

fn ifindex(ns: &Netns, dev: &str) -> u32 {
    let j: serde_json::Value =
        serde_json::from_str(&ns.ip_ok(&format!("-j link show {dev}"))).expect("json");
    j[0]["ifindex"].as_u64().expect("ifindex") as u32
}

#[test]
fn forged_unicast_to_neighs_port_is_ignored_and_counted() {
    let Some(ns) = Netns::new("spoof") else {
        return;
    };
    ns.veth("va", "vb");
    let idx = ifindex(&ns, "va");
    let ours = Running::start(&ns, common::NEIGH, &["monitor"]);
    let port = ours.port_id();

    // Another process (here: a thread inside the namespace) writes to neigh's port id.
    let forged = forged_newneigh(idx);
    ns.run_inside(move || {
        let s = RouteSocket::open(&SocketOptions::default()).expect("socket");
        s.send_to(&forged, port).expect("sendto neigh's port");
    });
    // A real event after the forged one proves neigh kept reading past it.
    ns.ip_ok("neigh add 10.0.0.77 lladdr 02:00:00:00:00:77 dev va");
    ours.wait_for("10.0.0.77");

    let out = ours.lines();
    assert!(
        !out.iter().any(|l| l.contains("10.66.66.66")),
        "forged entry printed: {out:?}"
    );
    assert_eq!(
        out,
        vec!["10.0.0.77 dev va lladdr 02:00:00:00:00:77 PERMANENT ".to_string()]
    );
    let t = Instant::now();
    while !ours
        .errors()
        .iter()
        .any(|l| l.contains("not the kernel") && l.contains("1 dropped so far"))
    {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "drop not reported: {:?}",
            ours.errors()
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// `[YYYY-MM-DDTHH:MM:SS.UUUUUU] ` at the start of `l`, as `-ts` prints it.
fn strip_short_timestamp(l: &str) -> Option<&str> {
    let (stamp, rest) = l.split_once("] ")?;
    let b = stamp.strip_prefix('[')?.as_bytes();
    let shape = b.len() == 26
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            _ => c.is_ascii_digit(),
        });
    shape.then_some(rest)
}

#[test]
fn timestamps_and_label_as_ip_monitor() {
    let Some(ns) = Netns::new("monitor-ts") else {
        return;
    };
    ns.veth("va", "vb");
    let ip_ts = Running::start(&ns, "ip", &["-ts", "monitor", "label", "neigh"]);
    let ours_ts = Running::start(&ns, common::NEIGH, &["-ts", "monitor", "label"]);
    let ip_t = Running::start(&ns, "ip", &["-t", "monitor", "neigh"]);
    let ours_t = Running::start(&ns, common::NEIGH, &["-t", "monitor"]);
    ours_ts.port_id();
    ours_t.port_id();
    // ip prints nothing when ready: add sentinels until both ip monitors show one.
    for i in 1..100 {
        ns.ip_ok(&format!(
            "neigh replace 10.9.9.{i} lladdr 02:00:00:00:09:09 dev va"
        ));
        thread::sleep(Duration::from_millis(50));
        let seen = |r: &Running| r.lines().iter().any(|l| l.contains("10.9.9."));
        if seen(&ip_ts) && seen(&ip_t) {
            break;
        }
    }
    ns.ip_ok("neigh add 10.5.5.5 lladdr 02:00:00:00:00:55 dev va");
    ns.ip_ok("neigh del 10.5.5.5 dev va");
    ns.ip_ok("neigh add 10.5.5.99 lladdr 02:00:00:00:00:99 dev va");
    for m in [&ip_ts, &ours_ts, &ip_t, &ours_t] {
        m.wait_for("10.5.5.99");
    }
    let from_first = |lines: Vec<String>| -> Vec<String> {
        let start = lines
            .iter()
            .position(|l| l.contains("10.5.5.5 "))
            .expect("first event");
        lines[start..].to_vec()
    };
    // -ts label: "[STAMP] [NEIGH]EVENT" on one line.
    let strip = |lines: Vec<String>| -> Vec<String> {
        from_first(lines)
            .iter()
            .map(|l| strip_short_timestamp(l).expect("-ts stamp").to_owned())
            .collect()
    };
    let theirs = strip(ip_ts.lines());
    assert!(
        theirs[0].starts_with("[NEIGH]10.5.5.5 dev va"),
        "{theirs:?}"
    );
    assert_eq!(strip(ours_ts.lines()), theirs);
    // -t: a "Timestamp: ASCTIME USEC usec" line before each event.
    let shape = |lines: Vec<String>| -> Vec<String> {
        let mut v = Vec::new();
        let start = lines
            .iter()
            .position(|l| l.contains("10.5.5.5 "))
            .expect("first event");
        for l in &lines[start - 1..] {
            if let Some(rest) = l.strip_prefix("Timestamp: ") {
                let words: Vec<&str> = rest.split_whitespace().collect();
                assert_eq!(words.len(), 7, "{l}");
                assert_eq!(words[6], "usec", "{l}");
                assert!(words[3].len() == 8 && words[3].as_bytes()[2] == b':', "{l}");
                v.push("Timestamp".to_owned());
            } else {
                v.push(l.clone());
            }
        }
        v
    };
    let theirs = shape(ip_t.lines());
    assert_eq!(theirs[0], "Timestamp");
    assert_eq!(shape(ours_t.lines()), theirs);
}
