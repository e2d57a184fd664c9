//! `neigh ndp` against illumos ndp(8): the table `-a`/`-A` print, the lines for a HOST,
//! `-s`, `-d`, `-f` and their errors, in a namespace whose table is set up and read back
//! with `ip -6 neigh` (the oracle of the contents). The formats and messages expected are
//! those of ndp(8)'s text and of illumos's `ndp.c` and netstat's `ndp_report`.
//! Host names come from a hosts file the namespace alone sees (`ip netns exec` binds
//! `/etc/netns/NS/*` over `/etc`), looked up in files only, so no test waits on DNS.

mod common;

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{code, stderr, stdout, Netns};

/// The namespace's own `/etc/hosts` and `nsswitch.conf`, removed on drop.
struct EtcFiles(std::path::PathBuf);

impl EtcFiles {
    fn new(ns: &Netns, hosts: &str) -> Self {
        let dir = std::path::PathBuf::from(format!("/etc/netns/{}", ns.name()));
        std::fs::create_dir_all(&dir).expect("mkdir /etc/netns/NS");
        std::fs::write(dir.join("hosts"), hosts).expect("write hosts");
        std::fs::write(dir.join("nsswitch.conf"), "hosts: files\n").expect("write nsswitch");
        Self(dir)
    }
}

impl Drop for EtcFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const HOSTS: &str = "\
127.0.0.1 localhost
2001:db8:1::5 epicac
2001:db8:1::9 epicac
2001:db8:1::6 gw
";

/// A namespace with `n0`/`n1`, no link-local addresses (no kernel-made entries), slow
/// NUD timers, a route to 2001:db8:1::/64 by n0, and the hosts file above.
fn setup(test: &str) -> Option<(Netns, EtcFiles)> {
    let ns = Netns::new(test)?;
    let sysctl = |kv: &str| {
        let o = ns
            .command("sysctl")
            .args(["-qw", kv])
            .output()
            .expect("run sysctl");
        assert!(o.status.success(), "sysctl {kv}: {}", stderr(&o));
    };
    sysctl("net.ipv6.conf.default.addr_gen_mode=1");
    ns.veth("n0", "n1");
    for knob in ["retrans_time_ms", "base_reachable_time_ms"] {
        sysctl(&format!("net.ipv6.neigh.n0.{knob}=600000"));
    }
    ns.ip_ok("-6 route add 2001:db8:1::/64 dev n0");
    let etc = EtcFiles::new(&ns, HOSTS);
    Some((ns, etc))
}

/// netstat's header (`ndp_report`), as `ndp -a` prints it.
const HEADER: &str = "\nNet to Media Table: IPv6\n \
If   Physical Address    Type      State      Destination/Mask\n\
----- -----------------  ------- ------------ ---------------------------\n";

/// The table `ndp -n -a` should print for what `ip -6 neigh show nud all` lists, in the
/// same (dump) order: netstat's `%-5s %-17s  %-7s %-12s %-27s` rows.
fn expected_table(ip_lines: &str) -> String {
    let mut out = String::new();
    for line in ip_lines.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        let (addr, dev, state) = (w[0], w[2], *w.last().unwrap());
        let mac = w
            .iter()
            .position(|&x| x == "lladdr")
            .map_or("", |i| w[i + 1]);
        let (kind, st) = match state {
            "PERMANENT" => ("static", "REACHABLE"),
            "NOARP" => ("other", "REACHABLE"),
            "FAILED" => ("dynamic", "UNREACHABLE"),
            s => ("dynamic", s),
        };
        out.push_str(&format!(
            "{dev:<5} {mac:<17}  {kind:<7} {st:<12} {addr:<27}\n"
        ));
    }
    if out.is_empty() {
        "\n".to_string()
    } else {
        format!("{HEADER}{out}\n")
    }
}

/// The lines of `s`, sorted (the kernel dumps in hash order).
fn sorted(s: &str) -> String {
    let mut v: Vec<&str> = s.lines().collect();
    v.sort_unstable();
    v.iter().map(|l| format!("{l}\n")).collect()
}

/// Runs `neigh ARGS`, expecting exactly `out` on stdout, `err` on stderr, exit `rc`.
fn expect(ns: &Netns, args: &str, out: &str, err: &str, rc: i32) {
    let o = ns.neigh(args);
    assert_eq!(
        (stdout(&o).as_str(), stderr(&o).as_str(), code(&o)),
        (out, err, rc),
        "neigh {args}"
    );
}

#[test]
fn table_and_host_lines_as_ndp_prints_them() {
    let Some((ns, _etc)) = setup("ndp-show") else {
        return;
    };
    // An empty table: only netstat's closing blank line.
    assert_eq!(ns.neigh_ok("ndp -n -a"), "\n");
    for add in [
        "2001:db8:1::5 lladdr 02:00:00:00:00:05 dev n0 nud permanent",
        "2001:db8:1::6 lladdr 0a:00:00:00:00:06 dev n0 nud stale router",
        "2001:db8:1::7 lladdr 02:00:00:00:00:07 dev n1 nud reachable",
        "2001:db8:1::8 dev n0 nud incomplete",
        "ff02::99 lladdr 33:33:00:00:00:99 dev n0 nud noarp",
        "fe80::1 lladdr 02:00:00:00:00:11 dev n0 nud stale",
    ] {
        ns.ip_ok(&format!("-6 neigh add {add}"));
    }
    let oracle = ns.ip_ok("-6 neigh show nud all");
    assert_eq!(oracle.lines().count(), 6, "{oracle}");
    let table = expected_table(&oracle);
    assert_eq!(ns.neigh_ok("ndp -n -a"), table);
    assert!(table.contains("n0    0a:00:00:00:00:06  dynamic STALE        2001:db8:1::6  "));
    // Without -n, the Destination column has the names the hosts file gives.
    let named = ns.neigh_ok("ndp -a");
    assert_eq!(
        named,
        table
            .replace(
                &format!("{:<27}", "2001:db8:1::5"),
                &format!("{:<27}", "epicac")
            )
            .replace(
                &format!("{:<27}", "2001:db8:1::6"),
                &format!("{:<27}", "gw")
            )
    );
    // neigh's `show` is -a.
    assert_eq!(ns.neigh_ok("ndp show"), named);

    // HOST: ndp(8)'s EXAMPLES, every address of a name, a missing one is no failure.
    expect(
        &ns,
        "ndp epicac",
        "2001:db8:1::5 (epicac) at 2:0:0:0:0:5\n2001:db8:1::9 (epicac) -- no entry\n",
        "",
        0,
    );
    expect(
        &ns,
        "ndp -n epicac",
        "2001:db8:1::5 (2001:db8:1::5) at 2:0:0:0:0:5\n\
         2001:db8:1::9 (2001:db8:1::9) -- no entry\n",
        "",
        0,
    );
    expect(
        &ns,
        "ndp 2001:db8:1::6",
        "2001:db8:1::6 (gw) at a:0:0:0:0:6 router temp\n",
        "",
        0,
    );
    // No link-layer address yet: illumos's SIOCLIFGETND says ESRCH.
    expect(
        &ns,
        "ndp -n 2001:db8:1::8",
        "2001:db8:1::8 (2001:db8:1::8) -- no entry\n",
        "",
        0,
    );
    // -i picks the interface (the entry is on n1, the route goes by n0).
    expect(
        &ns,
        "ndp -n 2001:db8:1::7",
        "2001:db8:1::7 (2001:db8:1::7) -- no entry\n",
        "",
        0,
    );
    expect(
        &ns,
        "ndp -n -i n1 2001:db8:1::7",
        "2001:db8:1::7 (2001:db8:1::7) at 2:0:0:0:0:7 temp\n",
        "",
        0,
    );
    // Zones.
    expect(
        &ns,
        "ndp -n fe80::1%n0",
        "fe80::1 (fe80::1%n0) at 2:0:0:0:0:11 temp\n",
        "",
        0,
    );
    expect(
        &ns,
        "ndp -n fe80::1%n1",
        "fe80::1 (fe80::1%n1) -- no entry\n",
        "",
        0,
    );

    // Errors: ndp's messages, exit 1.
    expect(
        &ns,
        "ndp nosuch",
        "",
        "ndp: Unable to lookup nosuch: Name or service not known\n",
        1,
    );
    expect(
        &ns,
        "ndp fe80::1",
        "",
        "ndp: Link-scope addresses should specify an interface with a zone ID, or with -i.\n",
        1,
    );
    expect(
        &ns,
        "ndp fe80::1%99",
        "",
        "ndp: Invalid zone identifier: 99\n",
        1,
    );
    expect(
        &ns,
        "ndp 2001:db9::1",
        "",
        "ndp: An appropriate interface for the address 2001:db9::1 is not in the routing \
         table; use -i to force an interface\n",
        1,
    );
    expect(
        &ns,
        "ndp -i nope 2001:db8:1::5",
        "",
        "ndp: Couldn't lookup 2001:db8:1::5: No such device or address\n",
        1,
    );
    let o = ns.neigh("ndp -a extra");
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).starts_with(
        "ndp: Extra arguments leftover after parsing flags\nUsage: neigh ndp [-n] [-i iface] hostname\n"
    ));
}

/// ndp(8)'s EXAMPLES, run as written there, print what the page shows.
#[test]
fn ndp8_examples_verbatim() {
    let Some((ns, etc)) = setup("ndp-examples") else {
        return;
    };
    ns.ip_ok("-6 route add fd00::/64 dev n0");
    let hosts = etc.0.join("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
    // Example 1: Setting a mapping.
    expect(&ns, "ndp -s fd00::1 90:b8:d0:4b:c7:3b temp", "", "", 0);
    assert_eq!(
        ns.ip_ok("-6 neigh show fd00::1"),
        "fd00::1 dev n0 lladdr 90:b8:d0:4b:c7:3b REACHABLE \n"
    );
    // Example 2: Getting a mapping, by address, then by a name with two addresses.
    expect(
        &ns,
        "ndp fd00::1",
        "fd00::1 (fd00::1) at 90:b8:d0:4b:c7:3b temp\n",
        "",
        0,
    );
    // echo fd00::1 epicac >> /etc/hosts; echo fd00::2 epicac >> /etc/hosts
    let mut text = std::fs::read_to_string(&hosts).unwrap();
    text.push_str("fd00::1 epicac\nfd00::2 epicac\n");
    std::fs::write(&hosts, text).unwrap();
    expect(
        &ns,
        "ndp epicac",
        "fd00::1 (epicac) at 90:b8:d0:4b:c7:3b temp\nfd00::2 (epicac) -- no entry\n",
        "",
        0,
    );
    // Example 3: Deleting a mapping, twice.
    expect(&ns, "ndp -d fd00::1", "", "", 0);
    expect(&ns, "ndp -d fd00::1", "", "ndp: No entry for fd00::1\n", 1);
}

#[test]
fn set_delete_and_file_as_ndp_does() {
    let Some((ns, _etc)) = setup("ndp-set") else {
        return;
    };
    // -s without -i: the route to the address names n0.
    expect(&ns, "ndp -s 2001:db8:1::5 2:0:0:0:0:5", "", "", 0);
    assert_eq!(
        ns.ip_ok("-6 neigh show 2001:db8:1::5"),
        "2001:db8:1::5 dev n0 lladdr 02:00:00:00:00:05 PERMANENT \n"
    );
    // The flags are the whole set: temp and router replace permanent.
    expect(
        &ns,
        "ndp -s 2001:db8:1::5 2:0:0:0:0:a temp router",
        "",
        "",
        0,
    );
    assert_eq!(
        ns.ip_ok("-6 neigh show 2001:db8:1::5"),
        "2001:db8:1::5 dev n0 lladdr 02:00:00:00:00:0a router REACHABLE \n"
    );
    // A name sets every address; -i places them.
    expect(&ns, "ndp -i n1 -s epicac 90:b8:d0:4b:c7:3b", "", "", 0);
    assert_eq!(
        sorted(&ns.ip_ok("-6 neigh show dev n1")),
        "2001:db8:1::5 lladdr 90:b8:d0:4b:c7:3b PERMANENT \n\
         2001:db8:1::9 lladdr 90:b8:d0:4b:c7:3b PERMANENT \n"
    );
    // any: warned about, never dropped silently; the rest is set.
    expect(
        &ns,
        "ndp -s 2001:db8:1::6 2:0:0:0:0:6 any",
        "",
        "ndp: warning: \"any\" (anycast) has no Linux equivalent; 2001:db8:1::6 is set \
         without it\n",
        0,
    );
    assert_eq!(
        ns.ip_ok("-6 neigh show 2001:db8:1::6"),
        "2001:db8:1::6 dev n0 lladdr 02:00:00:00:00:06 PERMANENT \n"
    );
    // Bad input: nothing set.
    expect(
        &ns,
        "ndp -s 2001:db8:1::7 02:00:zz:00:00:07",
        "",
        "ndp: Unable to parse link-layer address \"02:00:zz:00:00:07\"\n",
        1,
    );
    expect(
        &ns,
        "ndp -s 2001:db8:1::7 2:0:0:0:0:7 static",
        "",
        "ndp: Unrecognized option \"static\"\n",
        1,
    );
    expect(
        &ns,
        "ndp -i nope -s 2001:db8:1::7 2:0:0:0:0:7",
        "",
        "ndp: Failed to set mapping for 2001:db8:1::7: No such device or address\n",
        1,
    );
    expect(
        &ns,
        "ndp -s nosuch 2:0:0:0:0:7",
        "",
        "ndp: Unable to lookup nosuch: Name or service not known\n",
        1,
    );
    assert_eq!(ns.ip_ok("-6 neigh show 2001:db8:1::7 nud all"), "");

    // Without the privilege: ndp's own words for EPERM.
    let as_nobody = |args: &str| ns.as_nobody(common::NEIGH, args);
    for (args, err) in [
        (
            "ndp -s 2001:db8:1::7 2:0:0:0:0:7",
            "ndp: Permission denied, could not set entry for 2001:db8:1::7\n",
        ),
        (
            "ndp -d 2001:db8:1::6",
            "ndp: Permission denied, could not delete entry for 2001:db8:1::6\n",
        ),
    ] {
        let o = as_nobody(args);
        assert_eq!((stderr(&o).as_str(), code(&o)), (err, 1), "{args}");
    }
    assert_eq!(ns.ip_ok("-6 neigh show 2001:db8:1::7 nud all"), "");

    // -d, then again (ndp(8)'s EXAMPLES: "ndp: No entry for fd00::1").
    expect(&ns, "ndp -d 2001:db8:1::6", "", "", 0);
    assert_eq!(ns.ip_ok("-6 neigh show 2001:db8:1::6 nud all"), "");
    expect(
        &ns,
        "ndp -d 2001:db8:1::6",
        "",
        "ndp: No entry for 2001:db8:1::6\n",
        1,
    );

    // -f: comments skipped, every good line applied, each bad one reported (incomplete
    // ones with their number), exit 1.
    let file = std::env::temp_dir().join(format!("neigh-ndp-{}.txt", std::process::id()));
    std::fs::write(
        &file,
        "# ndp -f\n\
         2001:db8:1::a 2:0:0:0:0:a temp\n\
         \n\
         2001:db8:1::b\n\
         2001:db8:1::c 2:0:0:0:0:c router\n\
         2001:db8:1::d 2:0:0:0:0:zz\n",
    )
    .unwrap();
    expect(
        &ns,
        &format!("ndp -f {}", file.display()),
        "",
        "ndp: Line 3 incomplete, skipping: missing host identifier\n\
         ndp: Line 4 incomplete, skipping: missing link-layer address\n\
         ndp: Unable to parse link-layer address \"2:0:0:0:0:zz\"\n",
        1,
    );
    let _ = std::fs::remove_file(&file);
    assert_eq!(
        sorted(&ns.ip_ok("-6 neigh show dev n0 to 2001:db8:1::8/125")),
        "2001:db8:1::a lladdr 02:00:00:00:00:0a REACHABLE \n\
         2001:db8:1::c lladdr 02:00:00:00:00:0c router PERMANENT \n"
    );
    expect(
        &ns,
        "ndp -f /nonexistent/ndp",
        "",
        "ndp: Error while opening file /nonexistent/ndp: No such file or directory\n",
        1,
    );

    // neigh's own words, and -i after the operands.
    expect(
        &ns,
        "ndp set 2001:db8:1::e 2:0:0:0:0:e dev n1 temp",
        "",
        "",
        0,
    );
    expect(&ns, "ndp -s 2001:db8:1::f 2:0:0:0:0:f -i n1", "", "", 0);
    assert_eq!(
        sorted(&ns.ip_ok("-6 neigh show dev n1 to 2001:db8:1::e/127")),
        "2001:db8:1::e lladdr 02:00:00:00:00:0e REACHABLE \n\
         2001:db8:1::f lladdr 02:00:00:00:00:0f PERMANENT \n"
    );
    expect(&ns, "ndp delete 2001:db8:1::e dev n1", "", "", 0);
    expect(&ns, "ndp -d 2001:db8:1::f -i n1", "", "", 0);
    assert_eq!(ns.ip_ok("-6 neigh show dev n1 to 2001:db8:1::e/127"), "");
}

#[test]
fn repeat_prints_the_table_every_period() {
    let Some((ns, _etc)) = setup("ndp-repeat") else {
        return;
    };
    ns.ip_ok("-6 neigh add 2001:db8:1::5 lladdr 02:00:00:00:00:05 dev n0");
    let table = ns.neigh_ok("ndp -n -a");
    let mut child = ns
        .command(common::NEIGH)
        .args(["ndp", "-n", "-A", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn neigh");
    // Each chunk read, with when it came.
    let mut out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = out.read(&mut chunk) {
            if n == 0 || tx.send((Instant::now(), chunk[..n].to_vec())).is_err() {
                break;
            }
        }
    });
    // Three tables: when each was complete.
    let deadline = Instant::now() + Duration::from_secs(6);
    let mut printed = Vec::new();
    let mut done_at = Vec::new();
    while done_at.len() < 3 {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok((at, bytes)) = rx.recv_timeout(left) else {
            break;
        };
        printed.extend_from_slice(&bytes);
        while done_at.len() < 3 && printed.len() >= table.len() * (done_at.len() + 1) {
            done_at.push(at);
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Each the same as -a's, a period apart (fixed schedule: none early, none late).
    assert_eq!(String::from_utf8_lossy(&printed), table.repeat(3));
    let span = done_at[2] - done_at[0];
    assert!(
        span >= Duration::from_millis(1900) && span < Duration::from_millis(3000),
        "{span:?}"
    );
    let o = ns.neigh("ndp -A 86401");
    assert_eq!(code(&o), 1);
    assert!(stderr(&o)
        .starts_with("ndp: Given period should be shorter than a day; given \"86401\" seconds\n"));
}
