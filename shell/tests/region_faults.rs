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
    // The scripts' scratch files go to a directory of their own, removed after.
    let full = format!(
        "mount -t tmpfs -o size={shm_size},mode=1777 tmpfs /dev/shm || exit 99\n\
         scratch=$(mktemp -d) && cd \"$scratch\" || exit 99\n\
         trap 'cd /; rm -rf \"$scratch\"' EXIT\n{script}"
    );
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &full])
        .env("NEIGH", NEIGH)
        // Errors only on stderr, which the scripts print: no start-up lines.
        .env("NEIGH_LOG", "error")
        .env_remove("RUST_LOG")
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

/// A writer that died in the middle of a move leaves a lock's range unreadable: `map
/// show` prints what it can read, says how much it could not on stderr, and exits 4.
#[test]
fn map_show_reports_what_it_could_not_read() {
    use neigh::mirror::Region;
    use neigh::workspace::{ShmOptions, Workspace};
    use neigh_core::map::MapParams;
    use std::sync::atomic::{AtomicU64, Ordering};

    let Some(ns) = Netns::new("busy") else {
        return;
    };
    let name = format!("neigh-test-busy-{}", std::process::id());
    let params = MapParams::for_entries(64);
    let region = Region::create(Some(&name), &params, 0, &ShmOptions::default()).expect("create");
    let map = region.writer().expect("writable").expect("map");
    for i in 1..=40u8 {
        let e = neigh_core::NeighEntry {
            key: neigh_core::NeighKey {
                ifindex: 1,
                addr: std::net::IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, i)),
            },
            mac: Some([2, 0, 0, 0, 0, i]),
            state: neigh_core::NudState::PERMANENT,
            flags: neigh_core::NtfFlags::NONE,
        };
        map.upsert(&e, 0).expect("room");
    }
    // The version word of lock 0 (word 0 of its group, the groups at the offset header
    // word 7 records) left odd, as a writer killed in the middle of a move leaves it.
    let base = region.workspace().as_mut_ptr();
    // SAFETY: word 7 of the 512-byte header, inside the live read-write mapping.
    let groups = unsafe { (*base.add(7 * 8).cast::<AtomicU64>()).load(Ordering::Relaxed) };
    // SAFETY: the first word of the lock groups, inside the mapping, 8-byte aligned.
    let version = unsafe { &*base.add(groups as usize).cast::<AtomicU64>() };
    version.fetch_add(1, Ordering::AcqRel);
    let o = ns.neigh(&format!("map show {name}"));
    version.fetch_add(1, Ordering::AcqRel);
    let shown = stdout(&o).lines().count();
    let o2 = ns.neigh(&format!("map show {name}"));
    drop(region);
    Workspace::unlink_shm(&name).expect("unlink");
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("could not be read"), "{}", stderr(&o));
    assert!(shown < 40, "{shown} entries shown");
    // Released, every entry reads again (exit 3: no mirror keeps this map's heartbeat).
    assert_eq!((code(&o2), stdout(&o2).lines().count()), (3, 40));
    assert!(!stderr(&o2).contains("could not be read"));
}
