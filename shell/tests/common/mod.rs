//! Test harness for kernel-touching tests: a private network namespace per test, torn
//! down on drop (also when the test panics), with helpers to run `ip` (the oracle) and
//! the `neigh` binary inside it.
//!
//! Not root: the test is skipped with a message on stderr, unless `NEIGH_REQUIRE_NETNS=1`
//! (CI), which turns the skip into a panic.
#![allow(dead_code)] // Each test binary uses a different subset.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Path of the `neigh` binary under test.
pub const NEIGH: &str = env!("CARGO_BIN_EXE_neigh");

/// Skips the calling test (returns `None`) or panics under `NEIGH_REQUIRE_NETNS=1`.
fn skip(test: &str, why: &str) -> Option<Netns> {
    if std::env::var("NEIGH_REQUIRE_NETNS").is_ok_and(|v| v == "1") {
        panic!("{test}: cannot run ({why}) and NEIGH_REQUIRE_NETNS=1");
    }
    eprintln!("SKIPPED {test}: {why} (set NEIGH_REQUIRE_NETNS=1 to make this fatal)");
    None
}

/// A network namespace created for one test, deleted on drop.
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates `neigh-TEST-PID-N`. `None` (test skipped) when not root or `ip netns add`
    /// fails, unless `NEIGH_REQUIRE_NETNS=1`.
    pub fn new(test: &str) -> Option<Self> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return skip(test, "needs root to create network namespaces");
        }
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("neigh-{test}-{}-{n}", std::process::id());
        let out = Command::new("ip").args(["netns", "add", &name]).output();
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                return skip(
                    test,
                    &format!(
                        "ip netns add failed: {}",
                        String::from_utf8_lossy(&o.stderr)
                    ),
                )
            }
            Err(e) => return skip(test, &format!("cannot run ip: {e}")),
        }
        let ns = Self { name };
        ns.ip_ok("link set lo up");
        Some(ns)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n NS ARGS...` (ARGS split on whitespace).
    pub fn ip(&self, args: &str) -> Output {
        Command::new("ip")
            .arg("-n")
            .arg(&self.name)
            .args(args.split_whitespace())
            .output()
            .expect("run ip")
    }

    /// `ip -n NS ARGS`, asserting success; returns stdout.
    pub fn ip_ok(&self, args: &str) -> String {
        let o = self.ip(args);
        assert!(
            o.status.success(),
            "ip {args}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).expect("utf-8")
    }

    /// A command running `prog` inside the namespace (`ip netns exec NS prog`).
    pub fn command(&self, prog: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, prog]);
        c
    }

    /// `prog ARGS...` inside the namespace as user and group nobody, with no capability
    /// (`setpriv`): what an unprivileged user gets.
    pub fn as_nobody(&self, prog: &str, args: &str) -> Output {
        self.command("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
                prog,
            ])
            .args(args.split_whitespace())
            .output()
            .expect("run setpriv")
    }

    /// `neigh ARGS...` in the namespace, asserting success; returns stdout.
    pub fn neigh_ok(&self, args: &str) -> String {
        let o = self.neigh(args);
        assert!(
            o.status.success(),
            "neigh {args}: exit {} {}",
            code(&o),
            stderr(&o)
        );
        stdout(&o)
    }

    /// `ip netns exec NS neigh ARGS...`.
    pub fn neigh(&self, args: &str) -> Output {
        self.command(NEIGH)
            .args(args.split_whitespace())
            .stdin(Stdio::null())
            .output()
            .expect("run neigh")
    }

    /// `ip netns exec NS ip ARGS...` (the oracle run the same way as neigh).
    pub fn ip_exec(&self, args: &str) -> Output {
        self.command("ip")
            .args(args.split_whitespace())
            .stdin(Stdio::null())
            .output()
            .expect("run ip")
    }

    /// Adds a veth pair `a`/`b`, both up.
    pub fn veth(&self, a: &str, b: &str) {
        self.ip_ok(&format!("link add {a} type veth peer name {b}"));
        self.ip_ok(&format!("link set {a} up"));
        self.ip_ok(&format!("link set {b} up"));
    }

    /// Runs `f` on a thread that has entered the namespace (`setns`), e.g. to open a
    /// netlink socket there. Panics propagate.
    pub fn run_inside<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let file = File::open(&path).expect("open netns");
            // SAFETY: setns on a valid namespace descriptor; affects this thread only.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .expect("thread inside the namespace panicked")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The exit code (-1 when killed by a signal).
pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Fills `ns` with the reference table used by the comparison tests: interfaces `va`
/// and `vc` (veth peers `vb`, `vd`), IPv4 and IPv6 entries in every state `ip neigh add`
/// can create, router and proxy entries, extern_learn, a protocol, and the same IP on two
/// interfaces.
pub fn fill_reference_table(ns: &Netns) {
    // No IPv6 link-local addresses: no DAD/MLD traffic, so the kernel creates no entries
    // of its own while a test runs (they would make twin namespaces differ).
    let o = ns
        .command("sysctl")
        .args(["-qw", "net.ipv6.conf.default.addr_gen_mode=1"])
        .output()
        .expect("run sysctl");
    assert!(
        o.status.success(),
        "sysctl: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    ns.veth("va", "vb");
    ns.veth("vc", "vd");
    // Slow the NUD timers down so no entry changes state while a test compares outputs.
    for dev in ["va", "vc"] {
        for fam in ["ipv4", "ipv6"] {
            for (knob, v) in [
                ("retrans_time_ms", "600000"),
                ("base_reachable_time_ms", "600000"),
            ] {
                let o = ns
                    .command("sysctl")
                    .args(["-qw", &format!("net.{fam}.neigh.{dev}.{knob}={v}")])
                    .output()
                    .expect("run sysctl");
                assert!(
                    o.status.success(),
                    "sysctl: {}",
                    String::from_utf8_lossy(&o.stderr)
                );
            }
        }
    }
    for cmd in [
        "neigh add 10.0.0.1 lladdr 02:00:00:00:00:01 dev va nud permanent",
        "neigh add 10.0.0.2 lladdr 02:00:00:00:00:02 dev va nud reachable router",
        "neigh add 10.0.0.3 lladdr 02:00:00:00:00:03 dev va nud stale",
        "neigh add 10.0.0.4 dev va nud incomplete",
        "neigh add 10.0.0.5 dev va nud failed",
        "neigh add 10.0.0.6 lladdr 02:00:00:00:00:06 dev va nud noarp",
        "neigh add 10.0.0.7 lladdr 02:00:00:00:00:07 dev va nud permanent protocol static",
        "neigh add 10.0.0.8 lladdr 02:00:00:00:00:08 dev va nud stale extern_learn",
        "neigh add 10.0.0.10 dev va nud none",
        "neigh add 10.0.0.1 lladdr 02:00:00:00:00:11 dev vc nud permanent",
        "neigh add proxy 10.0.0.9 dev va",
        "neigh add proxy 2001:db8::9 dev vc",
        "neigh add 2001:db8::1 lladdr 02:00:00:00:00:21 dev va nud reachable router",
        "neigh add 2001:db8::2 lladdr 02:00:00:00:00:22 dev va nud stale",
        "neigh add 2001:db8::3 dev va nud incomplete",
        "neigh add 2001:db8::4 lladdr 02:00:00:00:00:24 dev vc nud noarp",
        "neigh add fe80::1 lladdr 02:00:00:00:00:25 dev vc nud permanent router",
        "neigh add fe80::1 lladdr 02:00:00:00:00:26 dev va nud stale",
        "neigh add ::ffff:10.1.2.3 lladdr 02:00:00:00:00:27 dev va nud permanent",
    ] {
        ns.ip_ok(cmd);
    }
}

/// A kernel-looking RTM_NEWNEIGH for 10.66.66.66 on interface `ifindex`, as a forger
/// would send it.
pub fn forged_newneigh(ifindex: u32) -> Vec<u8> {
    use neigh_core::wire::consts::{AF_INET, RTM_NEWNEIGH};
    use neigh_core::wire::{NeighMessage, NudState};
    use std::net::{IpAddr, Ipv4Addr};
    let msg = NeighMessage {
        kind: RTM_NEWNEIGH,
        family: AF_INET,
        ifindex,
        state: NudState::REACHABLE,
        dst: Some(IpAddr::V4(Ipv4Addr::new(10, 66, 66, 66))),
        lladdr: Some(&[0x02, 0x66, 0x66, 0x66, 0x66, 0x66]),
        ..Default::default()
    };
    let mut buf = vec![0u8; 256];
    let n = msg.emit(&mut buf, 0, 0).expect("emit");
    buf.truncate(n);
    buf
}
