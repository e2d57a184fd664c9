//! parse_dump: parse a 100,000-entry IPv4 neighbor dump with neigh-core and with
//! netlink-packet-route, side by side.
//!
//! The bytes are real: as root, setup creates a throwaway network namespace, loads 100k
//! PERMANENT entries with `ip -batch` and dumps them through a netlink socket into memory
//! (the datagrams exactly as the kernel sent them, ~76 bytes per message). Without root it
//! falls back to replicating a captured kernel message (core/tests/fixtures) with varied
//! addresses, which neigh-core re-emits byte for byte as the kernel would.
//!
//! Both sides do the same work per message: frame it, decode the neighbor message, and read
//! the destination, link-layer address and state. A counting global allocator shows that
//! neigh-core allocates nothing (asserted) while netlink-packet-route allocates per message.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use neigh_benches::{entry_addr, KernelTable};
use neigh_core::wire::consts::{AF_INET, NLMSG_DONE, NLMSG_ERROR, NLM_F_MULTI, RTM_NEWNEIGH};
use neigh_core::wire::{neigh_dump, DumpFilter, MessageIter, NeighMessage};
use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_route::neighbour::{NeighbourAddress, NeighbourAttribute};
use netlink_packet_route::RouteNetlinkMessage;

const ENTRIES: usize = 100_000;

/// Counts every allocation (and reallocation) in the process.
struct CountingAlloc;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call unchanged to the system allocator; only counts.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// A real dump: 100k PERMANENT entries in a fresh namespace, dumped over netlink by a
/// thread that enters it (this thread stays where it is).
fn kernel_dump() -> Result<Vec<Vec<u8>>, String> {
    let table = KernelTable::load("parse", ENTRIES as u32)?;
    std::thread::scope(|s| {
        s.spawn(|| {
            table.enter()?;
            dump_here()
        })
        .join()
        .map_err(|_| "dump thread panicked".to_string())?
    })
}

/// Dumps this thread's namespace's AF_INET neighbors and returns the reply datagrams as
/// received.
fn dump_here() -> Result<Vec<Vec<u8>>, String> {
    // SAFETY: a plain syscall; the descriptor it returns is owned right away.
    let sock = unsafe {
        let fd = libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        );
        if fd < 0 {
            return Err(format!("socket: {}", std::io::Error::last_os_error()));
        }
        OwnedFd::from_raw_fd(fd)
    };
    let mut req = [0u8; 64];
    let len = neigh_dump(&mut req, 1, AF_INET, DumpFilter::default()).map_err(|e| e.to_string())?;
    // SAFETY: sockaddr_nl is plain data; all-zero is the kernel's address.
    let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    // SAFETY: `req[..len]` and `kernel` are valid for the duration of the call.
    let sent = unsafe {
        libc::sendto(
            sock.as_raw_fd(),
            req.as_ptr().cast(),
            len,
            0,
            (&raw const kernel).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if sent != len as isize {
        return Err(format!("sendto: {}", std::io::Error::last_os_error()));
    }
    let mut buf = vec![0u8; 1 << 16];
    let mut datagrams = Vec::new();
    loop {
        // SAFETY: `buf` is valid for writes of its length.
        let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n <= 0 {
            return Err(format!("recv: {}", std::io::Error::last_os_error()));
        }
        let d = buf[..n as usize].to_vec();
        let done = MessageIter::new(&d)
            .any(|m| m.is_ok_and(|m| matches!(m.kind(), NLMSG_DONE | NLMSG_ERROR)));
        datagrams.push(d);
        if done {
            return Ok(datagrams);
        }
    }
}

/// Fallback without root: a captured kernel PERMANENT entry, re-emitted with 100k varied
/// addresses and MACs into 32 KiB datagrams (the kernel's dump datagram size), + DONE.
fn replicated_dump() -> Vec<Vec<u8>> {
    const V4_DUMP: &[u8] = include_bytes!("../../core/tests/fixtures/neigh_dump_v4.bin");
    let template = MessageIter::new(V4_DUMP)
        .filter_map(|m| NeighMessage::parse(&m.ok()?).ok())
        .find(|n| n.dst == Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5))))
        .expect("fixture has 10.0.0.5");
    let (mut datagrams, mut cur) = (Vec::new(), Vec::new());
    let mut msg = [0u8; 128];
    for i in 0..ENTRIES as u32 {
        let addr = entry_addr(i);
        let [_, a, b, c] = addr.octets();
        let mac = [2, 0, 10, a, b, c];
        let n = NeighMessage {
            dst: Some(IpAddr::V4(addr)),
            lladdr: Some(&mac),
            ..template
        };
        let len = n.emit(&mut msg, 1, NLM_F_MULTI).expect("fits");
        if cur.len() + len > 32768 {
            datagrams.push(std::mem::take(&mut cur));
        }
        cur.extend_from_slice(&msg[..len]);
    }
    let mut done = Vec::new();
    done.extend_from_slice(&20u32.to_ne_bytes());
    done.extend_from_slice(&NLMSG_DONE.to_ne_bytes());
    done.extend_from_slice(&NLM_F_MULTI.to_ne_bytes());
    done.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    cur.extend_from_slice(&done);
    datagrams.push(cur);
    datagrams
}

/// What both parsers read per message, folded so the optimizer cannot drop it.
#[inline(always)]
fn touch(dst: u32, lladdr: &[u8], state: u16) -> u64 {
    u64::from(dst) ^ u64::from(lladdr.last().copied().unwrap_or(0)) << 32 ^ u64::from(state) << 40
}

/// neigh-core: MessageIter + NeighMessage::parse + dst/lladdr/state. Returns (messages, fold).
fn parse_neigh_core(datagrams: &[Vec<u8>]) -> (usize, u64) {
    let (mut count, mut acc) = (0, 0u64);
    for d in datagrams {
        for m in MessageIter::new(d).flatten() {
            if m.kind() != RTM_NEWNEIGH {
                continue;
            }
            if let Ok(n) = NeighMessage::parse(&m) {
                let dst = match n.dst {
                    Some(IpAddr::V4(a)) => a.to_bits(),
                    _ => 0,
                };
                acc = acc.wrapping_add(touch(dst, n.lladdr.unwrap_or(&[]), n.state.0));
                count += 1;
            }
        }
    }
    (count, acc)
}

/// netlink-packet-route: NetlinkMessage::deserialize + the same fields.
fn parse_netlink_packet_route(datagrams: &[Vec<u8>]) -> (usize, u64) {
    let (mut count, mut acc) = (0, 0u64);
    for d in datagrams {
        let mut off = 0;
        while off < d.len() {
            let Ok(msg) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&d[off..]) else {
                break;
            };
            off += (msg.header.length as usize).next_multiple_of(4).max(16);
            if let NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewNeighbour(n)) = msg.payload
            {
                let (mut dst, mut lladdr) = (0, &[][..]);
                for a in &n.attributes {
                    match a {
                        NeighbourAttribute::Destination(NeighbourAddress::Inet(a)) => {
                            dst = a.to_bits()
                        }
                        NeighbourAttribute::LinkLayerAddress(l) => lladdr = l,
                        _ => {}
                    }
                }
                acc = acc.wrapping_add(touch(dst, lladdr, u16::from(n.header.state)));
                count += 1;
            }
        }
    }
    (count, acc)
}

/// Allocations made by one call of `f`.
fn allocations<T>(f: impl FnOnce() -> T) -> (u64, T) {
    let before = ALLOCATIONS.load(Relaxed);
    let out = black_box(f());
    (ALLOCATIONS.load(Relaxed) - before, out)
}

/// Best of `runs` wall-clock times of `f`, in ns per message.
fn ns_per_message(runs: usize, messages: usize, f: impl Fn() -> (usize, u64)) -> f64 {
    let mut best = Duration::MAX;
    for _ in 0..runs {
        let t = Instant::now();
        black_box(f());
        best = best.min(t.elapsed());
    }
    best.as_nanos() as f64 / messages as f64
}

fn bench(c: &mut Criterion) {
    let (source, datagrams) = match kernel_dump() {
        Ok(d) => ("kernel dump (netns, ip -batch, netlink socket)", d),
        Err(why) => {
            eprintln!("parse_dump: no real kernel dump ({why}); replicating a captured kernel message instead");
            ("replicated captured kernel message", replicated_dump())
        }
    };
    let bytes: usize = datagrams.iter().map(Vec::len).sum();

    let (core_allocs, (n_core, fold_core)) = allocations(|| parse_neigh_core(&datagrams));
    let (npr_allocs, (n_npr, fold_npr)) = allocations(|| parse_netlink_packet_route(&datagrams));
    assert_eq!(n_core, ENTRIES, "every entry parsed by neigh-core");
    assert_eq!(
        (n_npr, fold_npr),
        (n_core, fold_core),
        "both parsers read the same values"
    );
    let core_ns = ns_per_message(20, n_core, || parse_neigh_core(&datagrams));
    let npr_ns = ns_per_message(5, n_npr, || parse_netlink_packet_route(&datagrams));
    println!(
        "parse_dump: {source}: {n_core} messages, {bytes} bytes in {} datagrams ({:.1} bytes/message)",
        datagrams.len(),
        bytes as f64 / n_core as f64
    );
    println!("parse_dump: heap allocations per dump: neigh-core {core_allocs}, netlink-packet-route {npr_allocs}");
    println!(
        "parse_dump: best-of-N side by side: neigh-core {core_ns:.2} ns/msg, netlink-packet-route {npr_ns:.1} ns/msg, ratio {:.1}x",
        npr_ns / core_ns
    );
    assert_eq!(core_allocs, 0, "neigh-core must not allocate while parsing");

    let mut g = c.benchmark_group("parse_dump");
    g.throughput(Throughput::Elements(n_core as u64));
    g.sample_size(10);
    g.bench_function("neigh_core", |b| {
        b.iter(|| parse_neigh_core(black_box(&datagrams)))
    });
    g.bench_function("netlink_packet_route", |b| {
        b.iter(|| parse_netlink_packet_route(black_box(&datagrams)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
