//! Rust-side tests of the C API through its `extern "C"` functions (the C program in
//! examples/c/test_neigh.c covers the same contract from C).

use std::ffi::{c_int, CStr};
use std::ptr::{null, null_mut};

use super::*;
use crate::workspace::{ShmOptions, Workspace};

fn region(bytes: usize) -> Workspace {
    Workspace::anonymous(bytes).expect("anonymous mapping")
}

fn format(ws: &Workspace, entries: usize) -> *mut neigh_map {
    let mut map = null_mut();
    // SAFETY: `ws` is a live read-write mapping of ws.len() bytes that outlives the handle
    // (every test leaves before dropping it) and is used only through the map.
    let rc = unsafe { neigh_map_format(ws.as_mut_ptr().cast(), ws.len(), entries, 42, &mut map) };
    assert_eq!(rc, NEIGH_OK, "{}", describe(rc).to_string_lossy());
    assert!(!map.is_null());
    map
}

fn v4(a: [u8; 4]) -> u32 {
    u32::from_ne_bytes(a)
}

fn last_error() -> String {
    // SAFETY: neigh_last_error always returns a valid NUL-terminated string.
    unsafe { CStr::from_ptr(neigh_last_error()) }
        .to_string_lossy()
        .into_owned()
}

fn resolved(mac: [u8; 6], state: u16) -> neigh_entry {
    neigh_entry {
        mac,
        state,
        flags: 0x80,
        resolved: 1,
        generation: 3,
        reserved: 0,
    }
}

#[test]
fn footprint_and_align_match_the_map() {
    let p = neigh_core::map::MapParams::for_entries(1000);
    assert_eq!(
        neigh_map_footprint(1000),
        neigh_core::map::footprint(&p).expect("valid")
    );
    assert_eq!(neigh_map_align(), 64);
    assert_eq!(
        neigh_map_footprint(usize::MAX),
        neigh_map_footprint(1 << 29)
    );
}

#[test]
fn upsert_lookup_remove_v4_and_v6() {
    let ws = region(neigh_map_footprint(100));
    let map = format(&ws, 100);
    let mac = [2, 0, 0, 0, 0, 7];
    let ip = v4([10, 0, 0, 7]);
    let entry = resolved(mac, 0x02);
    let mut out = neigh_entry::default();
    // SAFETY (this and the calls below): `map` is a live handle, the other pointers point
    // to live locals of the right types.
    unsafe {
        assert_eq!(neigh_map_lookup4(map, 3, ip, &mut out), NEIGH_ABSENT);
        assert_eq!(neigh_map_upsert4(map, 3, ip, &entry), NEIGH_INSERTED);
        assert_eq!(neigh_map_upsert4(map, 3, ip, &entry), NEIGH_UPDATED);
        assert_eq!(neigh_map_lookup4(map, 3, ip, &mut out), NEIGH_FOUND);
        assert_eq!(out, entry);
        // Same address on another interface: another key.
        assert_eq!(neigh_map_lookup4(map, 4, ip, &mut out), NEIGH_ABSENT);

        let ip6 = "fe80::7"
            .parse::<std::net::Ipv6Addr>()
            .expect("ip")
            .octets();
        let pending = neigh_entry {
            mac: [9; 6],
            resolved: 0,
            state: 0x01,
            ..Default::default()
        };
        assert_eq!(
            neigh_map_upsert6(map, 3, ip6.as_ptr(), &pending),
            NEIGH_INSERTED
        );
        assert_eq!(
            neigh_map_lookup6(map, 3, ip6.as_ptr(), &mut out),
            NEIGH_FOUND
        );
        // Unresolved: no MAC is reported even though the input had bytes there.
        assert_eq!((out.resolved, out.mac, out.state), (0, [0; 6], 0x01));
        assert_eq!(neigh_map_len(map), 2);
        assert_eq!(neigh_map_capacity(map), 256);

        assert_eq!(neigh_map_remove4(map, 3, ip), NEIGH_REMOVED);
        assert_eq!(neigh_map_remove4(map, 3, ip), NEIGH_ABSENT);
        assert_eq!(neigh_map_lookup4(map, 3, ip, &mut out), NEIGH_ABSENT);
        assert_eq!(neigh_map_remove6(map, 3, ip6.as_ptr()), NEIGH_REMOVED);
        assert_eq!(neigh_map_len(map), 0);
        neigh_map_leave(map);
    }
}

#[test]
fn bursts_answer_as_single_lookups_do() {
    let ws = region(neigh_map_footprint(200));
    let map = format(&ws, 200);
    // Every third address present on interface 3; lookups on interfaces 3 and 4.
    let ips: Vec<u32> = (0..60u8).map(|i| v4([10, 0, 1, i])).collect();
    let ip6s: Vec<[u8; 16]> = (0..60u16)
        .map(|i| std::net::Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, i).octets())
        .collect();
    let ifindex: Vec<u32> = (0..60u32).map(|i| 3 + (i / 30)).collect();
    // SAFETY (this and the calls below): `map` is a live handle, the other pointers point
    // to live locals or vectors of the right types and lengths.
    unsafe {
        for (i, (ip, ip6)) in ips.iter().zip(&ip6s).enumerate().step_by(3) {
            let e = resolved([2, 0, 0, 0, 0, i as u8], 0x02);
            assert_eq!(neigh_map_upsert4(map, 3, *ip, &e), NEIGH_INSERTED);
            assert_eq!(neigh_map_upsert6(map, 3, ip6.as_ptr(), &e), NEIGH_INSERTED);
        }
        let n = ips.len();
        let (mut out, mut rc) = (vec![neigh_entry::default(); n], vec![99; n]);
        let found = neigh_map_lookup4_burst(
            map,
            n,
            ifindex.as_ptr(),
            ips.as_ptr(),
            out.as_mut_ptr(),
            rc.as_mut_ptr(),
        );
        let (mut out6, mut rc6) = (vec![neigh_entry::default(); n], vec![99; n]);
        let found6 = neigh_map_lookup6_burst(
            map,
            n,
            ifindex.as_ptr(),
            ip6s.as_ptr().cast(),
            out6.as_mut_ptr(),
            rc6.as_mut_ptr(),
        );
        let mut want_found = 0;
        for i in 0..n {
            let mut one = neigh_entry::default();
            let want = neigh_map_lookup4(map, ifindex[i], ips[i], &mut one);
            assert_eq!(rc[i], want, "v4 key {i}");
            let mut one6 = neigh_entry::default();
            let want6 = neigh_map_lookup6(map, ifindex[i], ip6s[i].as_ptr(), &mut one6);
            assert_eq!(rc6[i], want6, "v6 key {i}");
            if want == NEIGH_FOUND {
                want_found += 1;
                assert_eq!((out[i], out6[i]), (one, one6), "key {i}");
            } else {
                // Not written unless found.
                assert_eq!((out[i], out6[i]), Default::default(), "key {i}");
            }
        }
        // 10 present keys among the 30 looked up on interface 3, none on 4.
        assert_eq!((found, found6, want_found), (10, 10, 10));

        // Bad arguments: nothing written.
        let mut rc1 = [99];
        let p = (
            ifindex.as_ptr(),
            ips.as_ptr(),
            out.as_mut_ptr(),
            rc1.as_mut_ptr(),
        );
        assert_eq!(
            neigh_map_lookup4_burst(null(), 1, p.0, p.1, p.2, p.3),
            NEIGH_EFAULT
        );
        assert_eq!(
            neigh_map_lookup4_burst(map, 1, null(), p.1, p.2, p.3),
            NEIGH_EFAULT
        );
        assert_eq!(
            neigh_map_lookup4_burst(map, 1, p.0, null(), p.2, p.3),
            NEIGH_EFAULT
        );
        assert_eq!(
            neigh_map_lookup4_burst(map, 1, p.0, p.1, null_mut(), p.3),
            NEIGH_EFAULT
        );
        assert_eq!(
            neigh_map_lookup4_burst(map, 1, p.0, p.1, p.2, null_mut()),
            NEIGH_EFAULT
        );
        assert_eq!(
            neigh_map_lookup6_burst(map, 1, p.0, null(), p.2, p.3),
            NEIGH_EFAULT
        );
        let too_many = c_int::MAX as usize + 1;
        assert_eq!(
            neigh_map_lookup4_burst(map, too_many, p.0, p.1, p.2, p.3),
            NEIGH_EINVAL
        );
        let odd = p.1.cast::<u8>().add(1).cast::<u32>();
        assert_eq!(
            neigh_map_lookup4_burst(map, 1, p.0, odd, p.2, p.3),
            NEIGH_EINVAL
        );
        assert_eq!(rc1, [99]);
        // An empty burst finds nothing and writes nothing.
        assert_eq!(neigh_map_lookup4_burst(map, 0, p.0, p.1, p.2, p.3), 0);
    }
    // SAFETY: live handle, not used after.
    unsafe { neigh_map_leave(map) };
}

#[test]
fn a_second_handle_by_pointer_sees_the_writes_and_read_only_refuses_them() {
    let ws = region(neigh_map_footprint(64));
    let owner = format(&ws, 64);
    let mut ro = null_mut();
    let mut rw = null_mut();
    let entry = resolved([2, 1, 1, 1, 1, 1], 0x80);
    let mut out = neigh_entry::default();
    let ip = v4([192, 168, 1, 1]);
    // SAFETY: `ws` outlives all three handles; all pointers are to live locals.
    unsafe {
        let base = ws.as_mut_ptr().cast();
        assert_eq!(
            neigh_map_join(base, ws.len(), NEIGH_READ_ONLY, &mut ro),
            NEIGH_OK
        );
        assert_eq!(
            neigh_map_join(base, ws.len(), NEIGH_READ_WRITE, &mut rw),
            NEIGH_OK
        );
        assert_eq!(neigh_map_upsert4(rw, 9, ip, &entry), NEIGH_INSERTED);
        assert_eq!(neigh_map_lookup4(ro, 9, ip, &mut out), NEIGH_FOUND);
        assert_eq!(out.mac, entry.mac);
        assert_eq!(neigh_map_lookup4(owner, 9, ip, &mut out), NEIGH_FOUND);
        assert_eq!(neigh_map_upsert4(ro, 9, ip, &entry), NEIGH_EROFS);
        assert_eq!(neigh_map_remove4(ro, 9, ip), NEIGH_EROFS);
        assert_eq!(neigh_map_upsert4(rw, 0, ip, &entry), NEIGH_EINVAL);
        neigh_map_leave(ro);
        neigh_map_leave(rw);
        neigh_map_leave(owner);
    }
}

#[test]
fn bad_pointers_are_refused() {
    let ws = region(neigh_map_footprint(64));
    let map = format(&ws, 64);
    let mut out = neigh_entry::default();
    let mut handle = null_mut();
    let base = ws.as_mut_ptr();
    let len = ws.len();
    // SAFETY: every pointer is NULL, misaligned (refused before use), or valid.
    unsafe {
        assert_eq!(neigh_map_lookup4(null(), 1, 1, &mut out), NEIGH_EFAULT);
        assert_eq!(neigh_map_lookup4(map, 1, 1, null_mut()), NEIGH_EFAULT);
        assert_eq!(neigh_map_lookup6(map, 1, null(), &mut out), NEIGH_EFAULT);
        let odd_out = (&raw mut out).cast::<u8>().add(1).cast::<neigh_entry>();
        assert_eq!(neigh_map_lookup4(map, 1, 1, odd_out), NEIGH_EINVAL);
        let odd_map = map.cast::<u8>().add(1).cast::<neigh_map>();
        assert_eq!(neigh_map_lookup4(odd_map, 1, 1, &mut out), NEIGH_EINVAL);
        assert_eq!(neigh_map_upsert4(map, 1, 1, null()), NEIGH_EFAULT);
        assert_eq!(neigh_map_upsert4(null(), 1, 1, &out), NEIGH_EFAULT);

        assert_eq!(
            neigh_map_format(null_mut(), len, 64, 0, &mut handle),
            NEIGH_EFAULT
        );
        assert!(last_error().contains("NULL"), "{}", last_error());
        assert_eq!(
            neigh_map_format(base.cast(), len, 64, 0, null_mut()),
            NEIGH_EFAULT
        );
        let rc = neigh_map_format(base.add(8).cast(), len - 64, 64, 0, &mut handle);
        assert_eq!(rc, NEIGH_EINVAL);
        assert!(last_error().contains("aligned"), "{}", last_error());
        assert!(handle.is_null());
        let rc = neigh_map_join(base.add(8).cast(), len - 64, NEIGH_READ_ONLY, &mut handle);
        assert_eq!(rc, NEIGH_EINVAL);
        assert_eq!(
            neigh_map_join(base.cast(), len, 7, &mut handle),
            NEIGH_EINVAL
        );
        assert!(handle.is_null());
        neigh_map_leave(null_mut());
        neigh_map_leave(map);
    }
}

#[test]
fn small_unformatted_and_corrupted_regions_are_refused() {
    let need = neigh_map_footprint(64);
    let ws = region(need);
    let mut handle = null_mut();
    let base = ws.as_mut_ptr();
    // SAFETY: `ws` outlives every handle made here; the region is used only via the API
    // except for the one corrupting store, made while no handle exists.
    unsafe {
        assert_eq!(
            neigh_map_join(base.cast(), need, NEIGH_READ_ONLY, &mut handle),
            NEIGH_EBADMSG
        );
        let rc = neigh_map_format(base.cast(), need - 64, 64, 0, &mut handle);
        assert_eq!(rc, NEIGH_ERANGE);
        assert!(last_error().contains(&need.to_string()), "{}", last_error());
        neigh_map_leave(format(&ws, 64));
        let rc = neigh_map_join(base.cast(), need - 64, NEIGH_READ_ONLY, &mut handle);
        assert_eq!(rc, NEIGH_ERANGE);
        assert_eq!(
            neigh_map_join(base.cast(), 100, NEIGH_READ_ONLY, &mut handle),
            NEIGH_ERANGE
        );
        // Word 1 is the layout version; word 3 the capacity (core/src/map/header.rs).
        let words = base.cast::<u64>();
        words.add(1).write_volatile(99);
        let rc = neigh_map_join(base.cast(), need, NEIGH_READ_WRITE, &mut handle);
        assert_eq!(rc, NEIGH_EPROTONOSUPPORT);
        words.add(1).write_volatile(neigh_core::map::LAYOUT_VERSION);
        words.add(3).write_volatile(100);
        let rc = neigh_map_join(base.cast(), need, NEIGH_READ_WRITE, &mut handle);
        assert_eq!(rc, NEIGH_EUCLEAN);
        assert!(handle.is_null());
    }
}

#[test]
fn join_by_name_read_only_and_read_write() {
    let name = format!("neigh-ffi-unit-{}", std::process::id());
    let cname = std::ffi::CString::new(name.clone()).expect("name");
    let need = neigh_map_footprint(64);
    let ws = Workspace::create_shm(&name, need, &ShmOptions::default()).expect("create");
    let owner = format(&ws, 64);
    let (mut ro, mut rw) = (null_mut(), null_mut());
    let entry = resolved([2, 2, 2, 2, 2, 2], 0x02);
    let mut out = neigh_entry::default();
    let ip = v4([10, 9, 8, 7]);
    // SAFETY: NUL-terminated names, live locals, handles left before `ws` drops.
    unsafe {
        assert_eq!(
            neigh_map_join_shm(cname.as_ptr(), NEIGH_READ_ONLY, &mut ro),
            NEIGH_OK
        );
        assert_eq!(
            neigh_map_join_shm(cname.as_ptr(), NEIGH_READ_WRITE, &mut rw),
            NEIGH_OK
        );
        assert_eq!(neigh_map_upsert4(owner, 5, ip, &entry), NEIGH_INSERTED);
        assert_eq!(neigh_map_lookup4(ro, 5, ip, &mut out), NEIGH_FOUND);
        assert_eq!(out, entry);
        assert_eq!(neigh_map_upsert4(ro, 5, ip, &entry), NEIGH_EROFS);
        assert_eq!(neigh_map_remove4(rw, 5, ip), NEIGH_REMOVED);
        assert_eq!(neigh_map_lookup4(ro, 5, ip, &mut out), NEIGH_ABSENT);
        neigh_map_leave(ro);
        neigh_map_leave(rw);
        neigh_map_leave(owner);

        let missing = c"neigh-ffi-unit-no-such-map";
        let rc = neigh_map_join_shm(missing.as_ptr(), NEIGH_READ_ONLY, &mut ro);
        assert_eq!(rc, NEIGH_ENOENT);
        assert!(last_error().contains("no-such-map"), "{}", last_error());
        assert_eq!(
            neigh_map_join_shm(c"a/b".as_ptr(), NEIGH_READ_ONLY, &mut ro),
            NEIGH_EINVAL
        );
        assert_eq!(
            neigh_map_join_shm(null(), NEIGH_READ_ONLY, &mut ro),
            NEIGH_EFAULT
        );
        assert!(ro.is_null());
    }
    drop(ws);
    Workspace::unlink_shm(&name).expect("unlink");
}

/// A name in /dev/shm taken by a directory, a symbolic link, a FIFO or an empty file: each
/// join returns at once with a code `neigh_strerror` explains (never ENODEV's "no such
/// network interface", never a hang on the FIFO).
#[test]
fn joining_what_is_not_a_region_says_what_it_is() {
    let base = format!("neigh-ffi-notmap-{}", std::process::id());
    let path = |tag: &str| crate::workspace::shm_path(&format!("{base}-{tag}"));
    std::fs::create_dir(path("dir")).expect("mkdir");
    std::os::unix::fs::symlink("/etc/hostname", path("link")).expect("symlink");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path("fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .expect("mkfifo");
    std::fs::File::create(path("empty")).expect("create");
    let join = |tag: &'static str| {
        let name = std::ffi::CString::new(format!("{base}-{tag}")).expect("name");
        // The FIFO case hung before: run each join where a hang fails the test.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut out = null_mut();
            // SAFETY: a NUL-terminated name and a live out slot.
            let rc = unsafe { neigh_map_join_shm(name.as_ptr(), NEIGH_READ_ONLY, &mut out) };
            let _ = tx.send((rc, out.is_null(), last_error()));
        });
        rx.recv_timeout(std::time::Duration::from_secs(5))
            .unwrap_or_else(|_| panic!("joining the {tag} blocked"))
    };
    for (tag, code, says) in [
        ("dir", NEIGH_EISDIR, "is a directory"),
        ("link", NEIGH_ELOOP, "is a symbolic link"),
        ("fifo", NEIGH_EINVAL, "is a FIFO"),
        ("empty", NEIGH_ERANGE, "needs 512"),
    ] {
        let (rc, null_out, detail) = join(tag);
        assert_eq!(rc, code, "{tag}: {detail}");
        assert!(null_out);
        assert!(detail.contains(says), "{tag}: {detail}");
        let text = describe(rc).to_str().expect("ascii");
        assert!(
            !text.contains("interface") && text != "unknown error",
            "{tag}: {text}"
        );
    }
    std::fs::remove_dir(path("dir")).expect("rmdir");
    for tag in ["link", "fifo", "empty"] {
        std::fs::remove_file(path(tag)).expect("cleanup");
    }
}

#[test]
fn a_full_map_reports_enospc() {
    let ws = region(neigh_map_footprint(1));
    let map = format(&ws, 1);
    // SAFETY: live handle and local entry.
    let codes: Vec<c_int> = unsafe {
        let cap = neigh_map_capacity(map);
        let entry = resolved([2, 0, 0, 0, 0, 1], 0x80);
        let codes = (0..=cap as u32)
            .map(|i| neigh_map_upsert4(map, 1, i.to_be(), &entry))
            .collect();
        neigh_map_leave(map);
        codes
    };
    let inserted = codes.iter().filter(|&&c| c == NEIGH_INSERTED).count();
    assert!(codes
        .iter()
        .all(|&c| c == NEIGH_INSERTED || c == NEIGH_ENOSPC));
    assert!(
        inserted <= 64 && codes.last() == Some(&NEIGH_ENOSPC),
        "{codes:?}"
    );
}

#[test]
fn a_panic_is_caught_at_the_boundary() {
    // The default hook prints the message to stderr; the code is what C sees.
    assert_eq!(guard(|| panic!("injected")), NEIGH_ENOTRECOVERABLE);
    assert_eq!(guard(|| NEIGH_FOUND), NEIGH_FOUND);
}

#[test]
fn resolution_requests_reach_the_ring_after_the_map() {
    use neigh_core::ring::{ring_footprint, RequestRing, ResolveRequest};
    use std::sync::atomic::AtomicU64;

    let base = neigh_map_footprint(64);
    let ws = region(base + ring_footprint(4).expect("cells"));
    let owner = format(&ws, 64);
    // SAFETY: the region is page-aligned, `base` a multiple of 64, and the ring's words lie
    // inside the live mapping, which is only accessed atomically.
    let words = unsafe {
        std::slice::from_raw_parts(
            ws.as_mut_ptr().add(base).cast::<AtomicU64>(),
            (ws.len() - base) / 8,
        )
    };
    let ip6 = "2001:db8::5".parse::<std::net::Ipv6Addr>().expect("ip");
    let (mut ro, mut rw) = (null_mut(), null_mut());
    // SAFETY: `ws` outlives the handles; pointers are to live locals.
    unsafe {
        // The formatting owner's handle predates the ring: a bare map.
        assert_eq!(neigh_map_request_resolve4(owner, 1, 1), NEIGH_ENOTSUP);
        let ring = RequestRing::format(words, 4, base as u64).expect("ring");
        let b = ws.as_mut_ptr().cast();
        assert_eq!(
            neigh_map_join(b, ws.len(), NEIGH_READ_ONLY, &mut ro),
            NEIGH_OK
        );
        assert_eq!(
            neigh_map_join(b, ws.len(), NEIGH_READ_WRITE, &mut rw),
            NEIGH_OK
        );
        assert_eq!(
            neigh_map_request_resolve4(ro, 2, v4([10, 0, 0, 9])),
            NEIGH_EROFS
        );
        assert_eq!(
            neigh_map_request_resolve4(rw, 0, v4([10, 0, 0, 9])),
            NEIGH_EINVAL
        );
        assert_eq!(neigh_map_request_resolve6(rw, 2, null()), NEIGH_EFAULT);
        assert_eq!(
            neigh_map_request_resolve4(rw, 2, v4([10, 0, 0, 9])),
            NEIGH_OK
        );
        assert_eq!(
            neigh_map_request_resolve6(rw, 3, ip6.octets().as_ptr()),
            NEIGH_OK
        );
        let mut got = Vec::new();
        ring.drain(16, |r| got.push(r));
        assert_eq!(
            got,
            [
                ResolveRequest {
                    ifindex: 2,
                    addr: "10.0.0.9".parse().expect("ip")
                },
                ResolveRequest {
                    ifindex: 3,
                    addr: ip6.into()
                },
            ]
        );
        // Four cells: the fifth undrained post is dropped.
        let codes: Vec<c_int> = (1..=5)
            .map(|i| neigh_map_request_resolve4(rw, i, 7))
            .collect();
        assert_eq!(
            codes,
            [NEIGH_OK, NEIGH_OK, NEIGH_OK, NEIGH_OK, NEIGH_EAGAIN]
        );
        assert_eq!(ring.stats().dropped_full, 1);
        neigh_map_leave(ro);
        neigh_map_leave(rw);
        neigh_map_leave(owner);
    }
}

#[test]
fn lookups_on_many_threads_never_see_a_torn_entry_while_a_writer_runs() {
    const KEYS: u32 = 64;
    let ws = region(neigh_map_footprint(KEYS as usize));
    let map = format(&ws, KEYS as usize);
    // Every entry's MAC encodes its own address (bytes 2..6) and a version (byte 1); a
    // torn read or another key's MAC would break that.
    let entry_for = |ip: u32, version: u8| {
        let o = ip.to_ne_bytes();
        resolved([2, version, o[0], o[1], o[2], o[3]], 0x02)
    };
    let ips: Vec<u32> = (0..KEYS)
        .map(|i| v4([10, 1, (i >> 8) as u8, i as u8]))
        .collect();
    for &ip in &ips {
        // SAFETY: live handle and local entry.
        assert_eq!(
            unsafe { neigh_map_upsert4(map, 1, ip, &entry_for(ip, 0)) },
            NEIGH_INSERTED
        );
    }
    let shared = map as usize; // the handle is Sync: lookups and writes take `const *`
    let stop = std::sync::atomic::AtomicBool::new(false);
    let passes = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|s| {
        let readers: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(|| {
                    let map = shared as *const neigh_map;
                    let mut out = neigh_entry::default();
                    let (mut found, mut absent) = (0u64, 0u64);
                    // At least one full pass, however the threads get scheduled.
                    loop {
                        for &ip in &ips {
                            // SAFETY: live handle (left after the scope), local out.
                            match unsafe { neigh_map_lookup4(map, 1, ip, &mut out) } {
                                NEIGH_FOUND => {
                                    assert_eq!(out.mac[2..], ip.to_ne_bytes(), "torn or foreign");
                                    found += 1;
                                }
                                NEIGH_ABSENT => absent += 1,
                                rc => assert_eq!(rc, NEIGH_EBUSY),
                            }
                        }
                        passes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if stop.load(std::sync::atomic::Ordering::Relaxed) {
                            break;
                        }
                    }
                    (found, absent)
                })
            })
            .collect();
        let map = shared as *const neigh_map;
        // Write until the readers have made 300 passes over the keys meanwhile.
        let mut round = 0u32;
        while round < 2000 || passes.load(std::sync::atomic::Ordering::Relaxed) < 300 {
            round += 1;
            let ip = ips[(round % KEYS) as usize];
            // SAFETY: live handle and local entries.
            unsafe {
                if round % 7 == 0 {
                    assert_eq!(neigh_map_remove4(map, 1, ip), NEIGH_REMOVED);
                    assert_eq!(
                        neigh_map_upsert4(map, 1, ip, &entry_for(ip, 1)),
                        NEIGH_INSERTED
                    );
                } else {
                    let rc = neigh_map_upsert4(map, 1, ip, &entry_for(ip, round as u8));
                    assert_eq!(rc, NEIGH_UPDATED);
                }
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for r in readers {
            let (found, _absent) = r.join().expect("reader");
            assert!(found > 0);
        }
    });
    // SAFETY: every thread using the handle has been joined.
    unsafe { neigh_map_leave(map) };
}

/// A capacity past the largest map is refused before anything is created, not capped.
#[test]
fn a_mirror_capacity_out_of_range_is_refused() {
    let name =
        std::ffi::CString::new(format!("neigh-ffi-capacity-{}", std::process::id())).expect("name");
    let mut m = null_mut();
    // SAFETY: a NUL-terminated name and a live out slot.
    let rc = unsafe { mirror::neigh_mirror_create(name.as_ptr(), 1 << 40, &mut m) };
    assert_eq!(rc, NEIGH_EINVAL, "{}", last_error());
    assert!(m.is_null());
    assert!(last_error().contains("out of range"), "{}", last_error());
    let path = crate::workspace::shm_path(name.to_str().expect("utf-8"));
    assert!(!path.exists());
}

/// `neigh_map_status` decodes the header: a map no mirror ever owned is "starting" with no
/// writer and a stale heartbeat; a claim, a heartbeat and a supersede show up; bad
/// pointers are refused.
#[test]
fn status_reports_the_owner_and_supersede() {
    use crate::mirror::{monotonic_ms, MirrorState, StatWord};
    let ws = region(neigh_map_footprint(100));
    let map = format(&ws, 100);
    let mut st = neigh_status::default();
    // SAFETY: `map` is a live handle and `st` a valid out-parameter.
    assert_eq!(unsafe { neigh_map_status(map, &mut st) }, NEIGH_OK);
    assert_eq!(
        (st.state, st.writer_pid, st.claims, st.superseded, st.stale),
        (NEIGH_MIRROR_STARTING, 0, 0, 0, 1)
    );
    // SAFETY: `map` is a live handle.
    let writer = unsafe { &*map }.writer.expect("read-write");
    writer.claim(0, 4242).expect("first claim");
    writer.set_owner(4242);
    writer.heartbeat(monotonic_ms());
    writer.stat_store(StatWord::State.index(), MirrorState::Synced.as_u64());
    writer.stat_store(StatWord::HeartbeatPeriodMs.index(), 500);
    // SAFETY: as above.
    assert_eq!(unsafe { neigh_map_status(map, &mut st) }, NEIGH_OK);
    assert_eq!(
        (
            st.state,
            st.writer_pid,
            st.claims,
            st.stale,
            st.heartbeat_period_ms
        ),
        (NEIGH_MIRROR_SYNCED, 4242, 1, 0, 500)
    );
    assert_eq!((st.capacity, st.entries, st.poisoned), (256, 0, 0));
    writer.supersede();
    // SAFETY: as above.
    assert_eq!(unsafe { neigh_map_status(map, &mut st) }, NEIGH_OK);
    assert_eq!(st.superseded, 1);
    // SAFETY: NULL pointers are checked before use.
    unsafe {
        assert_eq!(neigh_map_status(null(), &mut st), NEIGH_EFAULT);
        assert_eq!(neigh_map_status(map, null_mut()), NEIGH_EFAULT);
        neigh_map_leave(map);
    }
}
