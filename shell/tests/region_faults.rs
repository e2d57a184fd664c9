//! The shared region under a bad day: a `/dev/shm` too small for the map, names taken by a
//! FIFO, a directory or a symbolic link, a stopped mirror's leftover beside a live
//! hugetlbfs map, and map names no one could read back.
//!
//! Each scenario runs in a private mount namespace (`unshare -m`) with its own small
//! tmpfs on `/dev/shm`, so filling it or planting files there touches nothing outside the
//! test, and mirrors run inside a test network namespace.

mod common;

use std::process::{Command, Output};

use common::{code, stderr, stdout, Netns, NEIGH};

/// Runs `script` with `sh` in a private mount namespace whose `/dev/shm` is a fresh tmpfs
/// of `shm_size`. `$NEIGH` is the binary under test, `$NS` the network namespace.
fn in_private_shm(ns: &Netns, shm_size: &str, script: &str) -> Output {
    let full =
        format!("mount -t tmpfs -o size={shm_size},mode=1777 tmpfs /dev/shm || exit 99\n{script}");
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &full])
        .env("NEIGH", NEIGH)
        .env("NS", ns.name())
        .output()
        .expect("run unshare");
    assert_ne!(code(&out), 99, "mount tmpfs: {}", stderr(&out));
    out
}

/// Lines `KEY=VALUE` the scripts print, as pairs.
fn value<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {key}= in {text}"))
}

#[test]
fn a_capacity_too_big_is_refused_and_a_full_tmpfs_is_a_clean_error() {
    let Some(ns) = Netns::new("capacity") else {
        return;
    };
    let out = in_private_shm(
        &ns,
        "64m",
        r#"
        ip netns exec "$NS" "$NEIGH" mirror --map x --capacity 1000000 2>err1
        echo "rc1=$?"
        echo "left1=$(ls -A /dev/shm | grep -v '^err' | tr '\n' ' ')"
        echo "err1=$(cat err1)"
        ip netns exec "$NS" "$NEIGH" mirror --map x --capacity 600000000 2>err2
        echo "rc2=$?"
        echo "err2=$(head -1 err2)"
        rm -f err1 err2
        echo "used=$(df --output=used /dev/shm | tail -1 | tr -d ' ')"
        "#,
    );
    let text = stdout(&out);
    // A map of a million entries takes more than 64 MiB: refused before any file is made,
    // with what was needed and what is free, instead of dying of SIGBUS (135).
    assert_eq!(value(&text, "rc1"), "1", "{text}");
    assert!(value(&text, "err1").contains("no room"), "{text}");
    assert_eq!(value(&text, "left1").trim(), "", "{text}");
    // Past the largest map: a usage error, not a silently smaller map.
    assert_eq!(value(&text, "rc2"), "2", "{text}");
    assert!(value(&text, "err2").contains("out of range"), "{text}");
    assert_eq!(value(&text, "used"), "0", "{text}");
}

#[test]
fn a_fifo_directory_or_symlink_at_the_name_never_hangs_and_says_what_it_is() {
    let Some(ns) = Netns::new("notafile") else {
        return;
    };
    let out = in_private_shm(
        &ns,
        "16m",
        r#"
        mkfifo /dev/shm/f
        mkdir /dev/shm/d
        ln -s /etc/hostname /dev/shm/l
        : > /dev/shm/e; chmod 600 /dev/shm/e
        for n in f d l e; do
            timeout 5 "$NEIGH" map show $n 2>err; echo "show_$n=$? $(cat err)"
            timeout 5 "$NEIGH" map stat $n 2>err; echo "stat_$n=$? $(cat err)"
        done
        for n in f d l; do
            timeout 5 ip netns exec "$NS" "$NEIGH" mirror --map $n 2>err
            echo "mirror_$n=$? $(cat err)"
        done
        ls -l /dev/shm | grep -c '^p' | sed 's/^/fifos=/'
        "#,
    );
    let text = stdout(&out);
    for (n, what) in [
        ("f", "is a FIFO"),
        ("d", "is a directory"),
        ("l", "is a symbolic link"),
    ] {
        for cmd in ["show", "stat", "mirror"] {
            let got = value(&text, &format!("{cmd}_{n}"));
            // 124 would be `timeout` killing a command blocked in open(2).
            assert!(got.starts_with("1 "), "{cmd} {n}: {got}");
            assert!(got.contains(what), "{cmd} {n}: {got}");
            assert!(!got.contains("another user"), "{cmd} {n}: {got}");
        }
    }
    for cmd in ["show", "stat"] {
        let got = value(&text, &format!("{cmd}_e"));
        assert!(got.starts_with("1 ") && got.contains("needs 512"), "{got}");
    }
    assert_eq!(
        value(&text, "fifos"),
        "1",
        "the FIFO was left alone: {text}"
    );
}

/// Sets aside `n` free huge pages for the test (raising `vm.nr_hugepages` when fewer are
/// free) and gives back what it added on drop.
struct HugePages {
    added: u64,
}

fn meminfo(key: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").expect("meminfo");
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|r| r.trim().split(' ').next()?.parse().ok())
        .unwrap_or(0)
}

impl HugePages {
    fn reserve(n: u64) -> Option<Self> {
        let free = meminfo("HugePages_Free:");
        if free >= n {
            return Some(HugePages { added: 0 });
        }
        let total = meminfo("HugePages_Total:");
        let want = total + n - free;
        std::fs::write("/proc/sys/vm/nr_hugepages", want.to_string()).ok()?;
        let pages = HugePages {
            added: meminfo("HugePages_Total:").saturating_sub(total),
        };
        (meminfo("HugePages_Free:") >= n).then_some(pages)
    }
}

impl Drop for HugePages {
    fn drop(&mut self) {
        if self.added > 0 {
            let total = meminfo("HugePages_Total:");
            let _ = std::fs::write(
                "/proc/sys/vm/nr_hugepages",
                total.saturating_sub(self.added).to_string(),
            );
        }
    }
}

#[test]
fn readers_pick_the_region_with_a_live_writer_and_hugetlb_must_be_a_hugetlbfs() {
    let Some(ns) = Netns::new("hugetlb") else {
        return;
    };
    let Some(_pages) = HugePages::reserve(2) else {
        eprintln!("SKIPPED hugetlb: no huge pages can be reserved on this machine");
        return;
    };
    let out = in_private_shm(
        &ns,
        "16m",
        r#"
        hp=$(mktemp -d)
        mount -t hugetlbfs none "$hp" || exit 98
        synced() {
            for i in $(seq 100); do
                "$NEIGH" map stat m -j 2>/dev/null | grep -q '"synced"' && return 0
                sleep 0.05
            done
            return 1
        }
        # A mirror that ran on /dev/shm/m and stopped: its region stays, "stopped".
        ip netns exec "$NS" "$NEIGH" mirror --map m --capacity 64 & pid=$!
        synced; kill -TERM $pid; wait $pid
        # A live mirror of the same name in the hugetlbfs.
        ip netns exec "$NS" "$NEIGH" mirror --map m --capacity 64 --hugetlb "$hp" & pid=$!
        synced; echo "synced=$?"
        echo "stat=$("$NEIGH" map stat m -j)"
        echo "hp=$hp"
        kill -TERM $pid; wait $pid
        # A directory that is no hugetlbfs: refused, nothing written anywhere.
        timeout 5 ip netns exec "$NS" "$NEIGH" mirror --map "w-$$" --capacity 64 --hugetlb /tmp 2>err
        echo "rc_tmp=$? $(cat err)"
        echo "w_left=$(ls "/tmp/w-$$" "/dev/shm/w-$$" 2>/dev/null | wc -l)"
        umount "$hp"; rmdir "$hp"
        "#,
    );
    let text = stdout(&out);
    assert_ne!(code(&out), 98, "mount hugetlbfs: {}", stderr(&out));
    assert_eq!(value(&text, "synced"), "0", "{text} {}", stderr(&out));
    let stat: serde_json::Value = serde_json::from_str(value(&text, "stat")).expect("map stat -j");
    let hp = value(&text, "hp");
    assert_eq!(stat["state"], "synced", "{stat}");
    assert!(
        stat["path"].as_str().is_some_and(|p| p.starts_with(hp)),
        "the reader took {} instead of the live map in {hp}",
        stat["path"]
    );
    let rc_tmp = value(&text, "rc_tmp");
    assert!(
        rc_tmp.starts_with("1 ") && rc_tmp.contains("not a hugetlbfs"),
        "{rc_tmp}"
    );
    assert_eq!(value(&text, "w_left"), "0", "{text}");
}

/// Names that could not be read back, or that would collide or forge output lines, are
/// refused where they are typed, with the rule they break.
#[test]
fn map_names_are_checked_where_they_are_typed() {
    use std::os::unix::ffi::OsStrExt;
    let Some(ns) = Netns::new("names") else {
        return;
    };
    // In the test's namespaces, bounded in time: a name let through starts a mirror.
    let run = |args: &[&std::ffi::OsStr]| {
        let o = ns
            .command("timeout")
            .arg("5")
            .arg(NEIGH)
            .args(args)
            .output()
            .expect("run neigh");
        (code(&o), stderr(&o))
    };
    let os = |s: &'static str| std::ffi::OsStr::new(s);
    let latin1 = std::ffi::OsStr::from_bytes(b"caf\xe9");
    for (args, why) in [
        (vec![os("mirror"), os("--map"), os("-j")], "starts with '-'"),
        (
            vec![os("mirror"), os("--map"), os("a\nb")],
            "control character",
        ),
        (vec![os("mirror"), os("--map"), latin1], "UTF-8"),
        (
            vec![os("map"), os("show"), os("a\u{1b}b")],
            "control character",
        ),
        (vec![os("map"), os("stat"), latin1], "UTF-8"),
    ] {
        let (rc, err) = run(&args);
        assert_eq!(rc, 2, "{args:?}: {err}");
        assert!(
            err.lines().next().is_some_and(|l| l.contains(why)),
            "{args:?}: {err}"
        );
    }
}
