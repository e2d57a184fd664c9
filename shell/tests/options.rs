//! The global options and `help`, checked against `ip` on the same table: every option ip
//! 6.1 accepts for `neigh` prints what ip prints (or nothing different), every option it
//! refuses is refused with its text and exit code, `-n NS` runs in the named namespace,
//! and `help` forms print usage on stderr with exit 255.

mod common;

use std::process::{Command, Output};

use common::{code, stderr, stdout, Netns, NEIGH};

fn run(prog: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(prog)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run")
}

/// ip's texts name ip where neigh's name neigh.
fn as_neigh(s: &str) -> String {
    s.replace("try \"ip -help\"", "try \"neigh -help\"")
}

#[test]
fn global_options_behave_as_ip() {
    let Some(ns) = Netns::new("options") else {
        return;
    };
    ns.veth("o0", "o1");
    for cmd in [
        "neigh add 10.6.0.1 lladdr 02:00:00:00:00:01 dev o0 nud permanent",
        "neigh add 10.6.0.2 dev o0 nud incomplete",
        "neigh add 127.0.0.1 lladdr 02:00:00:00:00:07 dev o0 protocol static",
        "neigh add 2001:db8::5 lladdr 02:00:00:00:00:05 dev o0 router nud stale",
        "neigh add proxy 10.6.0.9 dev o0",
    ] {
        ns.ip_ok(cmd);
    }
    let n = ns.name();
    let shows: [&[&str]; 3] = [&["show"], &["show", "dev", "o0"], &["show", "proxy"]];
    let options: [&[&str]; 30] = [
        &[],
        &["-4"],
        &["-6"],
        &["-0"],
        &["-M"],
        &["-B"],
        &["-f", "link"],
        &["-f", "inet6"],
        &["-family", "bridge"],
        &["-d"],
        &["-o"],
        &["-t"],
        &["-ts"],
        &["-h"],
        &["-iec"],
        &["-a"],
        &["-N"],
        &["-l", "3"],
        &["-rc", "100000"],
        &["-echo"],
        &["--json"],
        &["-s", "-s"],
        &["-br"],
        &["-br", "-j"],
        &["-c"],
        &["-color=always", "-br"],
        &["-c", "-j"],
        &["-r"],
        &["-r", "-j"],
        &["-color=never"],
    ];
    for opts in options {
        for show in shows {
            let mut ip_args = vec!["-n", n];
            ip_args.extend_from_slice(opts);
            ip_args.push("neigh");
            ip_args.extend_from_slice(show);
            let mut ne_args = vec!["-netns", n];
            ne_args.extend_from_slice(opts);
            ne_args.extend_from_slice(show);
            let theirs = run("ip", &ip_args, &[]);
            let ours = run(NEIGH, &ne_args, &[]);
            assert_eq!(
                (stdout(&ours), stderr(&ours), code(&ours)),
                (stdout(&theirs), stderr(&theirs), code(&theirs)),
                "{opts:?} {show:?}"
            );
        }
    }
    // The dark palette, as COLORFGBG selects it.
    let env = [("COLORFGBG", "15;0")];
    let theirs = run("ip", &["-n", n, "-c", "neigh"], &env);
    let ours = run(NEIGH, &["-n", n, "-c"], &env);
    assert_eq!(stdout(&ours), stdout(&theirs));
    assert!(stdout(&ours).contains("\x1b[1;35m10.6.0.1 \x1b[0m"));
    // -r names 127.0.0.1 from /etc/hosts.
    assert!(stdout(&run(NEIGH, &["-n", n, "-r", "show", "dev", "o0"], &[])).contains("localhost"));

    // Refused options and bad values: ip's text and exit code.
    let bad: [&[&str]; 8] = [
        &["-D"],
        &["-I"],
        &["-e"],
        &["-x"],
        &["-c=bogus"],
        &["-f", "bogus"],
        &["-n", "neigh-no-such-namespace"],
        &["-rc", "x"],
    ];
    for opts in bad {
        let mut ip_args = opts.to_vec();
        ip_args.extend_from_slice(&["neigh", "show"]);
        let mut ne_args = opts.to_vec();
        ne_args.push("show");
        let theirs = run("ip", &ip_args, &[]);
        let ours = run(NEIGH, &ne_args, &[]);
        assert_eq!(
            (stdout(&ours), stderr(&ours), code(&ours)),
            (stdout(&theirs), as_neigh(&stderr(&theirs)), code(&theirs)),
            "{opts:?}"
        );
        assert_ne!(code(&ours), 0, "{opts:?}");
    }
}

#[test]
fn help_is_usage_on_stderr_with_exit_255() {
    // An option without its value is ip's usage too.
    for opt in ["-batch", "-family", "-loops", "-rcvbuf"] {
        let (theirs, ours) = (run("ip", &[opt], &[]), run(NEIGH, &[opt], &[]));
        assert_eq!((code(&ours), code(&theirs)), (255, 255), "{opt}");
        assert!(stderr(&ours).starts_with("Usage: neigh"), "{opt}");
    }
    for args in [
        "help",
        "show help",
        "add help",
        "del help",
        "replace help",
        "get help",
        "flush help",
        "-help",
        "-f help",
        "help show",
    ] {
        let words: Vec<&str> = args.split_whitespace().collect();
        let ours = run(NEIGH, &words, &[]);
        let mut ip_args = vec!["neigh"];
        if args.starts_with('-') {
            ip_args.clear();
        }
        ip_args.extend_from_slice(&words);
        let theirs = run("ip", &ip_args, &[]);
        assert_eq!(
            (stdout(&ours).as_str(), code(&ours)),
            ("", code(&theirs)),
            "neigh {args}"
        );
        assert_eq!(code(&ours), 255, "neigh {args}");
        assert!(stderr(&ours).starts_with("Usage: neigh"), "neigh {args}");
    }
    let all = stderr(&run(NEIGH, &["help"], &[]));
    for word in [
        "-batch", "-force", "-netns", "show", "flush", "monitor", "ndp -s",
    ] {
        assert!(all.contains(word), "help lacks {word}");
    }
}

#[test]
fn master_altname_and_type_filters() {
    let Some(ns) = Netns::new("filters") else {
        return;
    };
    ns.veth("f0", "f1");
    ns.ip_ok("link property add dev f0 altname f0-alternative");
    ns.ip_ok("link add br0 type bridge");
    ns.ip_ok("link set f1 master br0");
    ns.ip_ok("link set lo up");
    for cmd in [
        "neigh add 10.7.0.1 lladdr 02:00:00:00:00:01 dev f0",
        "neigh add 10.7.0.2 lladdr 02:00:00:00:00:02 dev f1",
        "neigh add 10.7.0.3 dev lo",
    ] {
        ns.ip_ok(cmd);
    }
    let n = ns.name();
    let f0 = ns.ip_ok("link show f0");
    let f0_index = f0.split(':').next().expect("index");
    let if_f0 = format!("if{f0_index}");
    // ip and neigh on the same words: same output, errors, exit code.
    for words in [
        vec!["show", "dev", "f0-alternative"],
        vec!["show", "dev", &if_f0],
        vec!["show", "dev", "if9999"],
        vec!["show", "nomaster"],
        vec!["show", "master", "br0"],
        vec!["show", "master", "f9"],
        vec!["show", "vrf", "br0"],
        vec!["show", "vrf", "no-such-vrf"],
        vec!["-j", "show", "nomaster", "nud", "all"],
        vec!["get", "10.7.0.1", "dev", "f0-alternative"],
        vec!["flush", "vrf", "br0"],
    ] {
        let (opts, rest): (Vec<&str>, Vec<&str>) = words.iter().partition(|w| w.starts_with('-'));
        let mut ip_args = vec!["-n", n];
        ip_args.extend(&opts);
        ip_args.push("neigh");
        ip_args.extend(&rest);
        let mut ne_args = vec!["-n", n];
        ne_args.extend(&words);
        let theirs = run("ip", &ip_args, &[]);
        let ours = run(NEIGH, &ne_args, &[]);
        assert_eq!(
            (stdout(&ours), stderr(&ours), code(&ours)),
            (stdout(&theirs), stderr(&theirs), code(&theirs)),
            "{words:?}"
        );
    }
    // Changes through an alternative name.
    let ours = run(
        NEIGH,
        &[
            "-n",
            n,
            "replace",
            "10.7.0.9",
            "lladdr",
            "02:00:00:00:00:09",
            "dev",
            "f0-alternative",
        ],
        &[],
    );
    assert_eq!(code(&ours), 0, "{}", stderr(&ours));
    assert_eq!(
        ns.ip_ok("neigh show 10.7.0.9"),
        "10.7.0.9 dev f0 lladdr 02:00:00:00:00:09 PERMANENT \n"
    );
    // `type` (neigh's own): only the interfaces of that ARPHRD type.
    let ether = stdout(&run(
        NEIGH,
        &["-n", n, "show", "type", "ether", "nud", "all"],
        &[],
    ));
    assert!(
        ether.contains("10.7.0.1 dev f0") && ether.contains("10.7.0.2 dev f1"),
        "{ether}"
    );
    assert!(!ether.contains("dev lo"), "{ether}");
    let lo = stdout(&run(
        NEIGH,
        &["-n", n, "show", "type", "loopback", "nud", "all"],
        &[],
    ));
    assert!(lo.contains("dev lo") && !lo.contains("dev f0"), "{lo}");
    assert_eq!(
        lo,
        stdout(&run(
            NEIGH,
            &["-n", n, "show", "type", "772", "nud", "all"],
            &[]
        ))
    );
    let bad = run(NEIGH, &["-n", n, "show", "type", "bogus"], &[]);
    assert_eq!(
        (stderr(&bad).as_str(), code(&bad)),
        (
            "Error: argument \"bogus\" is wrong: link type is unknown\n",
            255
        )
    );
    let flushed = run(
        NEIGH,
        &["-n", n, "flush", "type", "loopback", "nud", "all"],
        &[],
    );
    assert_eq!(code(&flushed), 0, "{}", stderr(&flushed));
    assert_eq!(ns.ip_ok("neigh show dev lo nud all"), "");
    assert!(ns.ip_ok("neigh show dev f0").contains("10.7.0.1"));
}

#[test]
fn ntable_shows_and_changes_as_ip() {
    let Some(ns) = Netns::new("ntable") else {
        return;
    };
    ns.veth("t0", "t1");
    ns.ip_ok("link property add dev t0 altname t0-alternative");
    let n = ns.name();
    let same = |words: &[&str]| {
        let (opts, rest): (Vec<&str>, Vec<&str>) = words.iter().partition(|w| w.starts_with('-'));
        let mut ip_args = vec!["-n", n];
        ip_args.extend(&opts);
        ip_args.push("ntable");
        ip_args.extend(&rest);
        let mut ne_args = vec!["-n", n];
        ne_args.extend(words);
        ne_args.insert(2 + opts.len(), "ntable");
        let theirs = run("ip", &ip_args, &[]);
        let ours = run(NEIGH, &ne_args, &[]);
        (ours, theirs)
    };
    let cases: [&[&str]; 16] = [
        &[],
        &["-c", "show", "dev", "t0"],
        &["show"],
        &["list", "name", "arp_cache"],
        &["show", "dev", "t0"],
        &["show", "dev", "t0-alternative"],
        &["show", "dev", "none"],
        &["-6", "show", "dev", "t1"],
        &["-o", "show", "name", "ndisc_cache"],
        &["-j", "show"],
        &["-j", "-p", "show", "dev", "t0"],
        &["show", "dev", "no-such-dev"],
        &["show", "bogus"],
        &["bogus"],
        &["change", "name", "arp_cache"],
        &["change", "name", "arp_cache", "dev", "t0", "queue", "x"],
    ];
    for words in cases {
        // `reachable` is re-randomised by the kernel from time to time: a difference
        // between the two runs is retried.
        let mut tries = 0;
        loop {
            let (ours, theirs) = same(words);
            let got = (stdout(&ours), stderr(&ours), code(&ours));
            let want = (
                stdout(&theirs),
                stderr(&theirs).replace("ip ntable help", "neigh ntable help"),
                code(&theirs),
            );
            tries += 1;
            if got == want || tries == 3 {
                assert_eq!(got, want, "ntable {words:?}");
                break;
            }
        }
    }
    // -s adds config and stats: the same lines (the counters are the host's, they move).
    let (ours, theirs) = same(&["-s", "show", "name", "arp_cache", "dev", "none"]);
    let shape = |s: String| -> Vec<String> {
        s.lines()
            .map(|l| {
                l.split(' ')
                    .filter(|w| w.parse::<u64>().is_err())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    };
    assert_eq!(shape(stdout(&ours)), shape(stdout(&theirs)));
    assert!(
        stdout(&ours).contains("    stats allocs "),
        "{}",
        stdout(&ours)
    );
    assert!(
        stdout(&ours).contains("        last_flush "),
        "{}",
        stdout(&ours)
    );

    // Every parameter ip knows, on one interface; ip then shows them.
    let change = [
        "change",
        "name",
        "arp_cache",
        "dev",
        "t0-alternative",
        "base_reachable",
        "20000",
        "retrans",
        "2000",
        "gc_stale",
        "30000",
        "delay_probe",
        "4000",
        "queue",
        "7",
        "app_probes",
        "1",
        "ucast_probes",
        "4",
        "mcast_probes",
        "5",
        "anycast_delay",
        "900",
        "proxy_delay",
        "700",
        "proxy_queue",
        "33",
        "locktime",
        "1500",
    ];
    let mut args = vec!["-n", n, "ntable"];
    args.extend(&change[..]);
    let o = run(NEIGH, &args, &[]);
    assert_eq!((code(&o), stderr(&o)), (0, String::new()));
    let shown = ns.ip_ok("ntable show name arp_cache dev t0");
    for want in [
        "base_reachable 20000 retrans 2000",
        "gc_stale 30000 delay_probe 4000 queue 7",
        "app_probes 1 ucast_probes 4 mcast_probes 5",
        "anycast_delay 900 proxy_delay 700 proxy_queue 33 locktime 1500",
    ] {
        assert!(shown.contains(want), "{want}: {shown}");
    }
    // The thresholds are the host's: refused in a namespace, as ip is refused.
    let (ours, theirs) = same(&["change", "name", "arp_cache", "thresh3", "4096"]);
    assert_eq!(
        (stderr(&ours), code(&ours)),
        (stderr(&theirs), code(&theirs))
    );
    assert_ne!(code(&ours), 0);
    // In a batch, `ntable` lines run too.
    let mut child = Command::new(NEIGH)
        .args(["-n", n, "-batch", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(
            b"ntable change name arp_cache dev t0 queue 9\nntbl show dev t0 name arp_cache\n",
        )
        .expect("write");
    let o = child.wait_with_output().expect("wait");
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains(" queue 9 "), "{}", stdout(&o));
}
