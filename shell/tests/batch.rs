//! `neigh -batch` against `ip -batch`: the same file run in twin namespaces, compared on
//! stdout, stderr, exit code and the table left behind (so a failing batch is checked to
//! stop where ip's stops); pipelined windows of many lines; `flush` over many windows.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use common::{code, stderr, stdout, Netns, NEIGH};

/// Runs `prog -n NS [opts] -batch FILE` with `text` in FILE (or on stdin for `-`).
fn batch(prog: &str, ns: &Netns, opts: &[&str], text: &str, file: &str) -> Output {
    let mut c = Command::new(prog);
    c.args(["-n", ns.name()]).args(opts);
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    if file == "-" {
        c.args(["-batch", "-"]).stdin(Stdio::piped());
        let mut child = c.spawn().expect("spawn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write batch");
        child.wait_with_output().expect("wait")
    } else {
        std::fs::write(file, text).expect("write batch file");
        let o = c.args(["-batch", file]).output().expect("run");
        let _ = std::fs::remove_file(file);
        o
    }
}

/// Everything a neigh table shows, sorted (kernel multicast entries left out).
fn table(ns: &Netns) -> Vec<String> {
    let mut v: Vec<String> = ns
        .ip_ok("neigh show nud all")
        .lines()
        .chain(ns.ip_ok("neigh show proxy").lines())
        .filter(|l| !l.starts_with("ff02::") && !l.contains("lladdr 33:33:"))
        .map(String::from)
        .collect();
    v.sort();
    v
}

/// ip names itself in a few messages where neigh names itself.
fn as_neigh(s: &str) -> String {
    s.replace("try \"ip neigh help\"", "try \"neigh help\"")
        .replace("try \"ip help\"", "try \"neigh help\"")
}

/// Two namespaces with veth `b0`/`b1`, no IPv6 link-local addresses (so the kernel adds
/// no entries of its own while the test runs).
fn twins(test: &str) -> Option<(Netns, Netns)> {
    let (a, b) = (Netns::new(test)?, Netns::new(test)?);
    for ns in [&a, &b] {
        let o = ns
            .command("sysctl")
            .args(["-qw", "net.ipv6.conf.default.addr_gen_mode=1"])
            .output()
            .expect("sysctl");
        assert!(o.status.success(), "sysctl: {}", stderr(&o));
        ns.veth("b0", "b1");
    }
    Some((a, b))
}

/// Runs `text` through ip in `a` and neigh in `b` and asserts the same output, errors,
/// exit code and resulting table. Returns neigh's output.
fn same_as_ip(a: &Netns, b: &Netns, opts: &[&str], text: &str) -> Output {
    static RUN: AtomicU32 = AtomicU32::new(0);
    let run = RUN.fetch_add(1, Ordering::Relaxed);
    // Not /tmp: `ip -n` remounts parts of the file system view in its own mount
    // namespace.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let pid = std::process::id();
    let fa = dir.join(format!("neigh-batch-{pid}-{run}-ip.txt"));
    let fb = dir.join(format!("neigh-batch-{pid}-{run}-neigh.txt"));
    let theirs = batch("ip", a, opts, text, fa.to_str().expect("path"));
    let ours = batch(NEIGH, b, opts, text, fb.to_str().expect("path"));
    let name = |f: &std::path::Path, s: String| s.replace(f.to_str().expect("path"), "FILE");
    // Listings come in the kernel's hash order, which differs between namespaces.
    let sorted = |o: &Output| {
        let mut v: Vec<String> = stdout(o).lines().map(String::from).collect();
        v.sort();
        v
    };
    assert_eq!(
        (sorted(&ours), name(&fb, stderr(&ours)), code(&ours)),
        (
            sorted(&theirs),
            as_neigh(&name(&fa, stderr(&theirs))),
            code(&theirs)
        ),
        "batch {opts:?}:\n{text}"
    );
    assert_eq!(table(b), table(a), "table after batch {opts:?}:\n{text}");
    ours
}

fn reset(a: &Netns, b: &Netns) {
    for ns in [a, b] {
        ns.ip_ok("neigh flush nud all");
        let _ = ns.ip("neigh flush proxy");
    }
}

#[test]
fn batch_scripts_behave_as_ip() {
    let Some((a, b)) = twins("batch") else {
        return;
    };
    let scripts = [
        // Comments, blank lines, continuations, quotes, abbreviations.
        "# a comment\n\nneigh add 10.9.0.1 lladdr 02:00:00:00:00:01 dev b0 # trailing\n\
         n a 10.9.0.2 \\\n  lladdr 02:00:00:00:00:02 dev 'b0' nud reachable\n\
         neighbour replace 10.9.0.2 lladdr \"02:00:00:00:00:03\" dev b0\n\
         neigh show\nneigh change 10.9.0.1 lladdr 02:00:00:00:00:09 dev b0\n\
         neigh add proxy 10.9.0.7 dev b0\nneigh show proxy\nneigh del 10.9.0.2 dev b0\n\
         neigh get 10.9.0.1 dev b0\nneigh show nud permanent\n",
        // A kernel refusal stops the batch (exit 2), -force or not.
        "neigh add 10.9.0.1 lladdr 02:00:00:00:00:01 dev b0\n\
         neigh add 10.9.0.2 lladdr 02:00:00:00:00:01 dev b0\n\
         neigh add 10.9.0.1 lladdr 02:00:00:00:00:01 dev b0\n\
         neigh add 10.9.0.3 lladdr 02:00:00:00:00:01 dev b0\n",
        "neigh add 10.9.0.1 lladdr 02:00:00:00:00:01 dev b0\n\
         neigh del 10.9.0.5 dev b0\nneigh add 10.9.0.3 lladdr 02:00:00:00:00:01 dev b0\n",
        "neigh add 10.9.0.1 lladdr 02:00:00:00:00:01 dev b0\n\
         neigh change 10.9.0.6 lladdr 02:00:00:00:00:01 dev b0\n\
         neigh add 10.9.0.3 lladdr 02:00:00:00:00:01 dev b0\n",
        // Errors ip returns from: Command failed, -force goes on.
        "neigh add 10.9.0.1 lladdr 02:00:00:00:00:01 dev nodev\n\
         neigh add 10.9.0.2 lladdr 02:00:00:00:00:01 dev b0\nfoo bar\n\
         neigh get 10.9.0.8 dev b0\nneigh flush\nneigh add 10.9.0.3 lladdr zz dev b0\n\
         neigh add 10.9.0.4 lladdr 02:00:00:00:00:04 dev b0\n",
        // Errors ip exits on: bad address, bad keyword value, unknown command, help.
        "neigh add 10.9.0.1 lladdr 02:00:00:00:00:01 dev b0\nneigh add bogus dev b0\n\
         neigh add 10.9.0.2 lladdr 02:00:00:00:00:01 dev b0\n",
        "neigh add 10.9.0.1 lladdr 02:00:00:00:00:01 dev b0\nneigh show nud bogus\n",
        "neigh add 10.9.0.1 lladdr 02:00:00:00:00:01 dev b0\nneigh bogus\nneigh show\n",
        // Quoting and continuation errors.
        "neigh add 10.9.0.1 lladdr 02:00:00:00:00:01 dev b0\nneigh show 'open\nneigh show\n",
        "neigh add 10.9.0.1 lladdr 02:00:00:00:00:01 dev b0\nneigh show \\\n",
        // Flush in the middle of changes: the table is read again after it.
        "neigh add 10.9.0.1 lladdr 02:00:00:00:00:01 dev b0\n\
         neigh add 10.9.0.2 lladdr 02:00:00:00:00:02 dev b0 nud stale\n\
         neigh flush dev b0\nneigh add 10.9.0.2 lladdr 02:00:00:00:00:02 dev b0\n\
         neigh del 10.9.0.1 dev b0\nneigh del 10.9.0.1 dev b0\n",
        // IPv6, managed, proxy and router lines.
        "neigh add 2001:db8::1 lladdr 02:00:00:00:00:01 dev b0 router\n\
         neigh add 2001:db8::2 dev b0 managed\nneigh add proxy 2001:db8::3 dev b0\n\
         neigh replace 2001:db8::1 lladdr 02:00:00:00:00:05 dev b0 nud noarp\n\
         neigh del proxy 2001:db8::3 dev b0\nneigh del proxy 2001:db8::3 dev b0\n",
    ];
    for text in scripts {
        for opts in [&[][..], &["-force"][..]] {
            reset(&a, &b);
            same_as_ip(&a, &b, opts, text);
        }
    }
    // stdin, and a missing file.
    reset(&a, &b);
    let text = "neigh add 10.9.0.1 lladdr 02:00:00:00:00:01 dev b0\nneigh show\n";
    let theirs = batch("ip", &a, &[], text, "-");
    let ours = batch(NEIGH, &b, &[], text, "-");
    assert_eq!(
        (stdout(&ours), code(&ours)),
        (stdout(&theirs), code(&theirs))
    );
    assert_eq!(
        stdout(&ours),
        "10.9.0.1 dev b0 lladdr 02:00:00:00:00:01 PERMANENT \n"
    );
    // `help` (as an object or a command) is ip's usage: the batch ends with 255, the
    // lines before it applied. The usage texts differ (each names its tool).
    for text in [
        "neigh add 10.9.0.5 lladdr 02:00:00:00:00:05 dev b0\nhelp\nneigh show\n",
        "neigh add 10.9.0.5 lladdr 02:00:00:00:00:05 dev b0\nneigh help\nneigh show\n",
    ] {
        reset(&a, &b);
        let theirs = batch("ip", &a, &[], text, "-");
        let ours = batch(NEIGH, &b, &[], text, "-");
        assert_eq!(
            (stdout(&ours), code(&ours)),
            (stdout(&theirs), code(&theirs))
        );
        assert_eq!(code(&ours), 255);
        assert!(stderr(&ours).starts_with("Usage: neigh"));
        assert_eq!(table(&b), table(&a));
    }
    let missing = |prog: &str| {
        Command::new(prog)
            .args(["-batch", "/nonexistent/neigh-batch"])
            .output()
            .expect("run")
    };
    let (theirs, ours) = (missing("ip"), missing(NEIGH));
    assert_eq!(
        (stderr(&ours), code(&ours)),
        (stderr(&theirs), code(&theirs))
    );
}

#[test]
fn pipelined_windows_match_ip_and_stop_where_ip_stops() {
    let Some((a, b)) = twins("batch-many") else {
        return;
    };
    // 3000 lines: several windows. Adds, then replaces, then deletes of half.
    let mut text = String::new();
    for i in 0..3000u32 {
        let (x, y) = (i / 256, i % 256);
        text.push_str(&format!(
            "neigh add 10.20.{x}.{y} lladdr 02:00:00:00:{x:02x}:{y:02x} dev b0 nud permanent\n"
        ));
    }
    for i in 0..3000u32 {
        text.push_str(&format!(
            "neigh replace 10.20.{}.{} lladdr 02:00:00:00:aa:bb dev b0\n",
            i / 256,
            i % 256
        ));
    }
    for i in (0..3000u32).step_by(2) {
        text.push_str(&format!("neigh del 10.20.{}.{} dev b0\n", i / 256, i % 256));
    }
    same_as_ip(&a, &b, &[], &text);
    assert_eq!(table(&b).len(), 1500);

    // A refusal deep inside a run of pipelined lines: nothing after it is applied.
    reset(&a, &b);
    let mut text = String::new();
    for i in 0..2000u32 {
        let i = if i == 1500 { 700 } else { i };
        text.push_str(&format!(
            "neigh add 10.30.{}.{} lladdr 02:00:00:00:00:01 dev b0\n",
            i / 256,
            i % 256
        ));
    }
    let o = same_as_ip(&a, &b, &[], &text);
    assert_eq!(code(&o), 2);
    assert_eq!(table(&b).len(), 1500);
}

#[test]
fn flush_of_many_windows_matches_ip() {
    let Some((a, b)) = twins("batch-flush") else {
        return;
    };
    let mut text = String::new();
    for i in 0..5000u32 {
        text.push_str(&format!(
            "neigh add 10.40.{}.{} lladdr 02:00:00:00:00:01 dev b0 nud {}\n",
            i / 256,
            i % 256,
            if i % 3 == 0 {
                "permanent"
            } else {
                "stale extern_learn"
            }
        ));
    }
    same_as_ip(&a, &b, &[], &text);
    for args in ["-s neigh flush nud permanent", "-s neigh flush nud all"] {
        let theirs = a.ip_exec(args);
        let ours = b.neigh(&args.replace("neigh ", ""));
        assert_eq!(
            (stdout(&ours), stderr(&ours), code(&ours)),
            (stdout(&theirs), stderr(&theirs), code(&theirs)),
            "{args}"
        );
        assert_eq!(table(&b), table(&a), "after {args}");
    }
    assert!(table(&b).is_empty());
}

/// A shell script written for `ip`: namespace set-up, add, get, show, batch, a refused
/// add, flush, help, and a monitor. Prints what an operator would look at.
const IP_SCRIPT: &str = r#"
set -u
NS=$1
MON=$2
ip netns add $NS
ip -n $NS link add w0 type veth peer name w1
ip -n $NS link set w0 addrgenmode none
ip -n $NS link set w1 addrgenmode none
ip -n $NS link set w0 up
ip -n $NS link set w1 up
: > $MON
ip -n $NS monitor neigh >> $MON &
MONPID=$!
i=0
while ! grep -q 10.8.9. $MON; do
    i=$((i + 1))
    ip -n $NS neigh replace 10.8.9.$i lladdr 02:00:00:00:09:09 dev w0
    sleep 0.05
done
ip -n $NS neigh add 10.8.0.1 lladdr 02:00:00:00:00:01 dev w0
ip -n $NS neigh add 10.8.0.2 lladdr 02:00:00:00:00:02 dev w0 nud stale
ip -n $NS -6 neigh add 2001:db8::8 lladdr 02:00:00:00:00:08 dev w0 router
ip -n $NS neigh get 10.8.0.1 dev w0
# Entries come in the kernel's hash order, which differs between namespaces: sorted.
ip -n $NS neigh show dev w0 | grep -v 10.8.9. | sort
ip -n $NS -j neigh show 10.8.0.2
echo
printf 'neigh add 10.8.0.3 lladdr 02:00:00:00:00:03 dev w0\nneigh replace 10.8.0.2 lladdr 02:00:00:00:00:22 dev w0\n' | ip -n $NS -batch -
echo "batch: $?"
ip -n $NS neigh show to 10.8.0.0/24 | sort
ip -n $NS neigh add 10.8.0.1 lladdr 02:00:00:00:00:01 dev w0
echo "add again: $?"
ip -n $NS neigh del 10.8.0.3 dev w0
ip -n $NS -s neigh flush to 10.8.0.0/24
ip -n $NS -s neigh flush nud all to 10.8.0.0/24
ip -n $NS neigh show nud all dev w0 | grep -v 10.8.9. | sort
ip -n $NS neigh help 2>/dev/null
echo "help: $?"
ip -n $NS neigh add 10.8.0.99 lladdr 02:00:00:00:00:99 dev w0
while ! grep -q 10.8.0.99 $MON; do sleep 0.05; done
kill $MONPID
wait $MONPID 2>/dev/null
# The flush's events come in hash order: sorted.
grep -v 10.8.9. $MON | sort
ip netns del $NS
"#;

/// `ip` for the script: the neigh object (and `monitor neigh`) goes to neigh, with the
/// options before it; anything else to the real ip.
fn ip_wrapper(real_ip: &str) -> String {
    format!(
        r#"#!/bin/sh
opts=""
while [ $# -gt 0 ]; do
    case "$1" in
        -n|-netns|-b|-batch|-f|-family|-rc|-rcvbuf|-l|-loops) opts="$opts $1 $2"; shift 2;;
        -*) opts="$opts $1"; shift;;
        *) break;;
    esac
done
case "$1" in
    n|ne|nei|neig|neigh|neighbor|neighbour) shift; exec {NEIGH} $opts "$@";;
    monitor) if [ "$2" = neigh ]; then shift 2; exec {NEIGH} $opts monitor "$@"; fi;;
esac
case "$opts" in
    *-b*) exec {NEIGH} $opts "$@";;
esac
exec {real_ip} $opts "$@"
"#
    )
}

#[test]
fn scripts_for_ip_run_unchanged_through_an_ip_to_neigh_wrapper() {
    // Namespaces of its own (the script makes and deletes them); skip as Netns does.
    let Some(probe) = Netns::new("wrapper") else {
        return;
    };
    drop(probe);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("neigh-wrapper-{}", std::process::id()));
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let real_ip = Command::new("sh")
        .args(["-c", "command -v ip"])
        .output()
        .expect("sh");
    let real_ip = stdout(&real_ip).trim().to_owned();
    let wrapper = bin.join("ip");
    std::fs::write(&wrapper, ip_wrapper(&real_ip)).expect("write wrapper");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let script = dir.join("script.sh");
    std::fs::write(&script, IP_SCRIPT).expect("write script");
    let run = |tag: &str, path: String| {
        let ns = format!("neigh-wrapper-{tag}-{}", std::process::id());
        let mon = dir.join(format!("{tag}.monitor"));
        let o = Command::new("sh")
            .arg(&script)
            .arg(&ns)
            .arg(&mon)
            .env("PATH", path)
            .output()
            .expect("run script");
        let _ = Command::new(&real_ip).args(["netns", "del", &ns]).output();
        o
    };
    let path = std::env::var("PATH").unwrap_or_default();
    let theirs = run("ip", path.clone());
    let ours = run("neigh", format!("{}:{path}", bin.display()));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        stdout(&theirs).contains("Deleted 10.8.0.3 dev w0"),
        "{}",
        stdout(&theirs)
    );
    assert!(stdout(&theirs).contains("help: 255"), "{}", stdout(&theirs));
    assert_eq!(
        (stdout(&ours), stderr(&ours), code(&ours)),
        (stdout(&theirs), stderr(&theirs), code(&theirs))
    );
}
