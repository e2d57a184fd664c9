//! `neigh show` / `neigh show -j` / `neigh get` against `ip neigh` on the same table, in a
//! private namespace: byte for byte (text and JSON), and key for key (parsed JSON).

mod common;

use common::{code, fill_reference_table, stderr, stdout, Netns};

/// `ip [OPTS] neigh REST` for neigh's `OPTS REST` command line (options first).
fn ip_args(neigh_args: &str) -> String {
    let (opts, rest): (Vec<&str>, Vec<&str>) = neigh_args
        .split_whitespace()
        .partition(|w| w.starts_with('-'));
    format!("{} neigh {}", opts.join(" "), rest.join(" "))
}

/// Runs both and asserts identical stdout, stderr and exit code. Retries twice, since a
/// kernel timer may change an entry between the two runs.
fn assert_same(ns: &Netns, neigh_args: &str) {
    let mut last = String::new();
    for _ in 0..3 {
        let ours = ns.neigh(neigh_args);
        let theirs = ns.ip_exec(&ip_args(neigh_args));
        if ours.stdout == theirs.stdout
            && stderr(&ours) == stderr(&theirs)
            && code(&ours) == code(&theirs)
        {
            return;
        }
        last = format!(
            "neigh {neigh_args}:\n--- neigh (exit {}):\n{}{}\n--- ip (exit {}):\n{}{}",
            code(&ours),
            stdout(&ours),
            stderr(&ours),
            code(&theirs),
            stdout(&theirs),
            stderr(&theirs)
        );
    }
    panic!("outputs differ: {last}");
}

#[test]
fn text_output_is_byte_identical_to_ip() {
    let Some(ns) = Netns::new("show-text") else {
        return;
    };
    fill_reference_table(&ns);
    // The table really has what the comparison claims to cover. (Not FAILED: the kernel
    // garbage-collects FAILED entries at any moment when the host-wide table is busy; the
    // comparisons below cover it whenever it is still there.)
    let all = ns.ip_ok("neigh show nud all");
    for needle in [
        "PERMANENT",
        "REACHABLE",
        "STALE",
        "INCOMPLETE",
        "NOARP",
        "router",
        "extern_learn",
        "proto static",
    ] {
        assert!(
            all.contains(needle),
            "reference table lacks {needle}:\n{all}"
        );
    }
    for args in [
        "show",
        "",
        "list",
        "show nud all",
        "show nud none",
        "show nud noarp",
        "show nud stale nud reachable",
        "show nud failed nud incomplete",
        "show dev va",
        "show dev vc nud all",
        "-4 show",
        "-6 show",
        "-6 show nud all",
        "show proxy",
        "-6 show proxy",
        "show to 10.0.0.0/30",
        "show 10.0.0.1",
        "show to 2001:db8::/64",
        "show to all",
        "show protocol static",
        "-s show",
        "-s show nud all",
        "-s -s show dev va",
    ] {
        assert_same(&ns, args);
    }
}

#[test]
fn json_output_is_byte_identical_to_ip_and_key_for_key() {
    let Some(ns) = Netns::new("show-json") else {
        return;
    };
    fill_reference_table(&ns);
    for args in [
        "-j show",
        "-j show nud all",
        "-j -p show",
        "-j -p show nud all",
        "-j show dev va",
        "-j -6 show nud all",
        "-j show proxy",
        "-j -s show",
        "-j -p -s show nud all",
        "-j show dev vb",
        "-j -p show dev vb",
    ] {
        assert_same(&ns, args);
    }
    // Key for key, value types included (independent of layout).
    let ours: serde_json::Value =
        serde_json::from_slice(&ns.neigh("-j show nud all").stdout).expect("neigh JSON");
    let theirs: serde_json::Value =
        serde_json::from_slice(&ns.ip_exec("-j neigh show nud all").stdout).expect("ip JSON");
    assert_eq!(ours, theirs);
    let list = ours.as_array().expect("a list");
    assert!(list.len() >= 15, "{list:?}");
    assert!(list
        .iter()
        .any(|e| e.get("router").is_some_and(|v| v.is_null())));
    assert!(list
        .iter()
        .any(|e| e["state"] == serde_json::json!(["NOARP"])));
}

#[test]
fn router_filter_keeps_exactly_the_router_lines() {
    let Some(ns) = Netns::new("show-router") else {
        return;
    };
    fill_reference_table(&ns);
    let ours = stdout(&ns.neigh("show nud all router"));
    let expected: String = ns
        .ip_ok("neigh show nud all")
        .lines()
        .filter(|l| l.contains(" router "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(ours, expected);
}

#[test]
fn get_matches_ip_get() {
    let Some(ns) = Netns::new("get") else { return };
    fill_reference_table(&ns);
    for args in [
        "get 10.0.0.1 dev va",
        "get 10.0.0.1 dev vc",
        "get 2001:db8::1 dev va",
        "get fe80::1 dev vc",
        "get proxy 10.0.0.9 dev va",
        "-s get 10.0.0.2 dev va",
        "get 10.99.0.1 dev va",
        "get 10.0.0.1 dev nosuch",
        "get 10.0.0.1",
        "get 10.0.0.1 dev",
    ] {
        assert_same(&ns, args);
    }
    // -j get: a one-element list with ip -j show's keys.
    let j: serde_json::Value =
        serde_json::from_slice(&ns.neigh("-j get 10.0.0.1 dev vc").stdout).expect("JSON");
    assert_eq!(
        j,
        serde_json::json!([{"dst": "10.0.0.1", "dev": "vc", "lladdr": "02:00:00:00:00:11", "state": ["PERMANENT"]}])
    );
}

#[test]
fn empty_table_and_unknown_device() {
    let Some(ns) = Netns::new("show-empty") else {
        return;
    };
    ns.veth("e0", "e1");
    for args in [
        "show dev e0",
        "-j show dev e0",
        "-j -p show dev e0",
        "show dev nosuch",
        "-j show dev nosuch",
    ] {
        assert_same(&ns, args);
    }
    let o = ns.neigh("show dev nosuch");
    assert_eq!(
        (code(&o), stderr(&o).as_str()),
        (1, "Cannot find device \"nosuch\"\n")
    );
}
