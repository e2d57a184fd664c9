//! `neigh add | replace | change | del | flush` checked against what `ip neigh` then
//! shows, and bad input checked for `ip`'s error text and exit code.

mod common;

use common::{code, fill_reference_table, stderr, stdout, Netns};

fn ok(ns: &Netns, args: &str) {
    assert_eq!(ns.neigh_ok(args), "", "neigh {args} printed something");
}

fn fails(ns: &Netns, args: &str, err: &str, exit: i32) {
    let o = ns.neigh(args);
    assert_eq!((stderr(&o).as_str(), code(&o)), (err, exit), "neigh {args}");
    assert_eq!(stdout(&o), "");
}

#[test]
fn add_replace_change_del_as_ip_sees_them() {
    let Some(ns) = Netns::new("modify") else {
        return;
    };
    ns.veth("m0", "m1");

    ok(&ns, "add 10.1.0.1 lladdr 02:00:00:00:01:01 dev m0");
    assert_eq!(
        ns.ip_ok("neigh get 10.1.0.1 dev m0"),
        "10.1.0.1 dev m0 lladdr 02:00:00:00:01:01 PERMANENT \n"
    );

    ok(&ns, "add 10.1.0.2 lladdr 02:00:00:00:01:02 dev m0 nud stale router extern_learn protocol static");
    assert_eq!(
        ns.ip_ok("neigh show 10.1.0.2"),
        "10.1.0.2 dev m0 lladdr 02:00:00:00:01:02 router extern_learn STALE proto static \n"
    );

    ok(
        &ns,
        "add 2001:db8::1 lladdr 02:00:00:00:01:03 dev m0 nud reachable router",
    );
    assert_eq!(
        ns.ip_ok("-6 neigh show dev m0"),
        "2001:db8::1 lladdr 02:00:00:00:01:03 router REACHABLE \n"
    );

    ok(&ns, "add proxy 10.1.0.9 dev m0");
    assert_eq!(ns.ip_ok("neigh show proxy"), "10.1.0.9 dev m0 proxy \n");

    // add of an existing entry is refused, as by ip.
    let ip = ns.ip("neigh add 10.1.0.1 lladdr 02:00:00:00:01:01 dev m0");
    fails(
        &ns,
        "add 10.1.0.1 lladdr 02:00:00:00:01:01 dev m0",
        &stderr(&ip),
        code(&ip),
    );
    assert_eq!(stderr(&ip), "RTNETLINK answers: File exists\n");

    ok(
        &ns,
        "replace 10.1.0.1 lladdr 02:00:00:00:01:ff dev m0 nud stale",
    );
    assert_eq!(
        ns.ip_ok("neigh get 10.1.0.1 dev m0"),
        "10.1.0.1 dev m0 lladdr 02:00:00:00:01:ff STALE \n"
    );
    ok(
        &ns,
        "replace 10.1.0.3 lladdr 02:00:00:00:01:04 dev m0 nud noarp",
    );
    assert_eq!(
        ns.ip_ok("neigh show 10.1.0.3 nud all"),
        "10.1.0.3 dev m0 lladdr 02:00:00:00:01:04 NOARP \n"
    );

    ok(
        &ns,
        "change 10.1.0.1 lladdr 02:00:00:00:01:aa dev m0 nud permanent",
    );
    assert_eq!(
        ns.ip_ok("neigh get 10.1.0.1 dev m0"),
        "10.1.0.1 dev m0 lladdr 02:00:00:00:01:aa PERMANENT \n"
    );
    let ip = ns.ip("neigh change 10.1.0.77 lladdr 02:00:00:00:01:aa dev m0");
    fails(
        &ns,
        "change 10.1.0.77 lladdr 02:00:00:00:01:aa dev m0",
        &stderr(&ip),
        code(&ip),
    );

    ok(&ns, "del 10.1.0.1 dev m0");
    ok(&ns, "delete 2001:db8::1 dev m0");
    ok(&ns, "del proxy 10.1.0.9 dev m0");
    let left = ns.ip_ok("neigh show nud all dev m0");
    assert!(
        !left.contains("10.1.0.1 ") && !left.contains("2001:db8::1 "),
        "{left}"
    );
    assert_eq!(ns.ip_ok("neigh show proxy"), "");
    let ip = ns.ip("neigh del 10.1.0.1 dev m0");
    fails(&ns, "del 10.1.0.1 dev m0", &stderr(&ip), code(&ip));
    assert_eq!(
        stderr(&ip),
        "RTNETLINK answers: No such file or directory\n"
    );
}

/// What `ip SHOW` lists, sorted (hash order differs between namespaces), without the
/// multicast entries the kernel creates for each link's random address.
fn table(ns: &Netns, show: &str) -> Vec<String> {
    let mut v: Vec<String> = ns
        .ip_ok(show)
        .lines()
        .filter(|l| !l.starts_with("ff02::"))
        .map(String::from)
        .collect();
    v.sort();
    v
}

/// Builds the same table in two namespaces, flushes one with ip and one with neigh, and
/// compares what each printed and what each table has left.
fn flush_like_ip(test: &str, args: &str) {
    let (Some(a), Some(b)) = (Netns::new(test), Netns::new(test)) else {
        return;
    };
    fill_reference_table(&a);
    fill_reference_table(&b);
    // FAILED entries are garbage-collected at random times when the (host-wide) table is
    // busy, which would make the twins differ: leave them out here.
    for ns in [&a, &b] {
        let _ = ns.ip("neigh del 10.0.0.5 dev va");
    }
    let (opts, rest): (Vec<&str>, Vec<&str>) =
        args.split_whitespace().partition(|w| w.starts_with('-'));
    let theirs = a.ip_exec(&format!(
        "{} neigh flush {}",
        opts.join(" "),
        rest.join(" ")
    ));
    let ours = b.neigh(&format!("{} flush {}", opts.join(" "), rest.join(" ")));
    // Entries listed by -s -s come in hash order, which may differ between namespaces.
    let sorted = |s: String| {
        let mut v: Vec<String> = s.lines().map(String::from).collect();
        v.sort();
        v
    };
    assert_eq!(
        (sorted(stdout(&ours)), stderr(&ours), code(&ours)),
        (sorted(stdout(&theirs)), stderr(&theirs), code(&theirs)),
        "flush {args}"
    );
    assert!(
        code(&theirs) != 0
            || args.is_empty()
            || !stdout(&theirs).is_empty()
            || !args.contains("-s")
    );
    for show in ["neigh show nud all", "neigh show proxy"] {
        assert_eq!(
            table(&b, show),
            table(&a, show),
            "after flush {args}: {show}"
        );
    }
}

#[test]
fn flush_dev_keeps_permanent_and_noarp() {
    flush_like_ip("flush-dev", "dev va");
    let Some(ns) = Netns::new("flush-check") else {
        return;
    };
    fill_reference_table(&ns);
    ok(&ns, "flush dev va");
    let left = ns.ip_ok("neigh show nud all dev va");
    assert!(
        !left.contains("STALE") && !left.contains("REACHABLE") && !left.contains("FAILED"),
        "{left}"
    );
    assert!(
        left.contains("PERMANENT") && left.contains("NOARP"),
        "{left}"
    );
}

#[test]
fn flush_variants_match_ip() {
    flush_like_ip("flush-s", "-s dev va");
    flush_like_ip("flush-ss", "-s -s dev vc");
    flush_like_ip("flush-all", "-s all");
    flush_like_ip("flush-nud", "nud permanent");
    flush_like_ip("flush-nudall", "-s nud all");
    flush_like_ip("flush-6", "-6 -s to 2001:db8::/64");
    flush_like_ip("flush-proxy", "-s proxy");
    flush_like_ip("flush-none", "-s dev vd");
    flush_like_ip("flush-noargs", "");
}

#[test]
fn bad_input_errors_like_ip() {
    let Some(ns) = Netns::new("errors") else {
        return;
    };
    ns.veth("va", "vb");
    ns.ip_ok("neigh add 10.0.0.1 lladdr 02:00:00:00:00:01 dev va");
    // (neigh args, expected stderr, expected exit): each also checked against ip itself.
    let cases: &[(&str, &str, i32)] = &[
        ("show dev nosuch", "Cannot find device \"nosuch\"\n", 1),
        (
            "add 10.1.1.1 lladdr 02:00:00:00:00:01 dev nosuch",
            "Cannot find device \"nosuch\"\n",
            1,
        ),
        (
            "show nud bogus",
            "Error: argument \"bogus\" is wrong: nud state is bad\n",
            255,
        ),
        (
            "add 10.1.1.1 lladdr zz dev va",
            "\"zz\" is invalid lladdr.\n",
            1,
        ),
        (
            "add bogus dev va",
            "Error: any valid address is expected rather than \"bogus\".\n",
            1,
        ),
        (
            "add 10.1.1.300 dev va",
            "Error: any valid address is expected rather than \"10.1.1.300\".\n",
            1,
        ),
        (
            "add 2001:db8::zz dev va",
            "Error: any valid address is expected rather than \"2001:db8::zz\".\n",
            1,
        ),
        (
            "-4 add 2001:db8::5 dev va",
            "Error: inet address is expected rather than \"2001:db8::5\".\n",
            1,
        ),
        (
            "show to 1.2.3.4.5",
            "Error: any valid prefix is expected rather than \"1.2.3.4.5\".\n",
            1,
        ),
        (
            "show 10.0.0.0/33",
            "Error: any valid prefix is expected rather than \"10.0.0.0/33\".\n",
            1,
        ),
        (
            "add 10.1.1.1 lladdr 02:00:00:00:00:01",
            "Device and destination are required arguments.\n",
            255,
        ),
        (
            "del 10.0.0.1",
            "Device and destination are required arguments.\n",
            255,
        ),
        (
            "get 10.0.0.1",
            "Device and address are required arguments.\n",
            1,
        ),
        (
            "show dev",
            "Command line is not complete. Try option \"help\"\n",
            255,
        ),
        (
            "add 10.1.1.1 lladdr 02:00:00:00:00:01 dev va nud bogus",
            "Error: argument \"bogus\" is wrong: nud state is bad\n",
            255,
        ),
        ("flush", "Flush requires arguments.\n", 1),
        (
            "show dev va dev vb",
            "Error: duplicate \"dev\": \"vb\" is the second value.\n",
            255,
        ),
        // Kernel rejections: plain errno, and the extended-ack text.
        (
            "add 10.0.0.1 lladdr 02:00:00:00:00:01 dev va",
            "RTNETLINK answers: File exists\n",
            2,
        ),
        (
            "del 10.99.0.1 dev va",
            "RTNETLINK answers: No such file or directory\n",
            2,
        ),
        (
            "get 10.99.0.1 dev va",
            "Error: Neighbour entry not found.\n",
            2,
        ),
        (
            "add 10.1.1.7 lladdr 02:00:00:00:00 dev va",
            "Error: Invalid link address.\n",
            2,
        ),
    ];
    for &(args, err, exit) in cases {
        fails(&ns, args, err, exit);
        let (opts, rest): (Vec<&str>, Vec<&str>) =
            args.split_whitespace().partition(|w| w.starts_with('-'));
        let ip = ns.ip_exec(&format!("{} neigh {}", opts.join(" "), rest.join(" ")));
        assert_eq!(
            (stderr(&ip).as_str(), code(&ip)),
            (err, exit),
            "ip disagrees on {args}"
        );
    }
    // neigh's own words for its own grammar, and where it is stricter than ip (whose
    // sscanf("%x") reads "1g" as 1).
    fails(
        &ns,
        "add 10.1.1.1 lladdr 02:00:00:00:00:1g dev va",
        "\"1g\" is invalid lladdr.\n",
        1,
    );
    fails(
        &ns,
        "bogus",
        "Command \"bogus\" is unknown, try \"neigh help\".\n",
        255,
    );
    fails(
        &ns,
        "-x show",
        "Option \"-x\" is unknown, try \"neigh -help\".\n",
        255,
    );
}

#[test]
fn missing_permission_is_eperm_like_ip() {
    let Some(ns) = Netns::new("eperm") else {
        return;
    };
    ns.veth("va", "vb");
    let ours = ns.as_nobody(
        common::NEIGH,
        "add 10.4.4.4 lladdr 02:00:00:00:00:01 dev va",
    );
    let theirs = ns.as_nobody("ip", "neigh add 10.4.4.4 lladdr 02:00:00:00:00:01 dev va");
    assert_eq!(
        stderr(&ours),
        "RTNETLINK answers: Operation not permitted\n"
    );
    assert_eq!(
        (stderr(&ours), code(&ours)),
        (stderr(&theirs), code(&theirs))
    );
    assert_eq!(code(&ours), 2);
    assert_eq!(ns.ip_ok("neigh show nud all 10.4.4.4"), "");
    // Reading needs no privilege.
    let show = ns.as_nobody(common::NEIGH, "show");
    assert!(show.status.success(), "{}", stderr(&show));
}

#[test]
fn help_lists_every_command() {
    // Usage goes to stderr with exit 255, as ip's (tests/options.rs checks each form).
    let all = std::process::Command::new(common::NEIGH)
        .arg("help")
        .output()
        .expect("run neigh");
    assert_eq!(code(&all), 255);
    for word in [
        "show", "get", "add", "replace", "change", "del", "flush", "monitor", "ndp -s", "ndp -d",
        "ndp -a",
    ] {
        assert!(stderr(&all).contains(word), "help lacks {word}");
    }
}
