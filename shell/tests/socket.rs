//! The library socket (`neigh::netlink`) in a private namespace: filtered dumps, acked
//! changes, kernel refusals with their extended-ack text, batches, events, and datagrams
//! from non-kernel senders being dropped and counted.

mod common;

use std::io;
use std::net::IpAddr;
use std::process::Command;

use common::Netns;
use neigh::netlink::{KernelError, RouteSocket, SocketOptions};
use neigh_core::wire::consts::{
    AF_INET, AF_UNSPEC, NLM_F_DUMP_FILTERED, RTM_NEWNEIGH, RTNLGRP_NEIGH,
};
use neigh_core::wire::request::REQUEST_BUF_LEN;
use neigh_core::wire::{self, DumpFilter, NeighMessage, NeighRequest, NewMode, NtfFlags, NudState};

fn ifindex(ns: &Netns, dev: &str) -> u32 {
    let j: serde_json::Value =
        serde_json::from_str(&ns.ip_ok(&format!("-j link show {dev}"))).expect("json");
    j[0]["ifindex"].as_u64().expect("ifindex") as u32
}

fn req(ifindex: u32, addr: &str, lladdr: Option<&'static [u8]>) -> NeighRequest<'static> {
    NeighRequest {
        ifindex,
        addr: addr.parse().expect("addr"),
        lladdr,
        state: NudState::PERMANENT,
        flags: NtfFlags::NONE,
        flags_ext: None,
        protocol: None,
    }
}

fn open() -> RouteSocket {
    RouteSocket::open(&SocketOptions::default()).expect("open socket")
}

#[test]
fn dump_filtered_by_the_kernel_matches_ip() {
    let Some(ns) = Netns::new("sock-dump") else {
        return;
    };
    common::fill_reference_table(&ns);
    let va = ifindex(&ns, "va");
    let (count, filtered, others) = ns.run_inside(move || {
        let mut s = open();
        let mut buf = [0u8; REQUEST_BUF_LEN];
        let seq = s.next_seq();
        let n = wire::neigh_dump(
            &mut buf,
            seq,
            AF_UNSPEC,
            DumpFilter {
                ifindex: Some(va),
                ..Default::default()
            },
        )
        .expect("build");
        let (mut count, mut filtered, mut others) = (0, 0, 0);
        let done = s
            .request(&buf[..n], |m| {
                count += 1;
                if m.flags() & NLM_F_DUMP_FILTERED != 0 {
                    filtered += 1;
                }
                let nm = NeighMessage::parse(m).map_err(io::Error::other)?;
                if nm.ifindex != va {
                    others += 1;
                }
                Ok(())
            })
            .expect("dump");
        assert_eq!(done.messages, count);
        assert_eq!(s.drops().foreign, 0);
        (count, filtered, others)
    });
    let expected = ns.ip_ok("neigh show nud all dev va").lines().count() as u64;
    assert!(expected > 5);
    assert_eq!(count, expected);
    assert_eq!(
        filtered, count,
        "strict checking: the kernel filtered by NDA_IFINDEX"
    );
    assert_eq!(others, 0);
}

#[test]
fn dump_neighbors_parses_every_entry() {
    let Some(ns) = Netns::new("sock-dumpn") else {
        return;
    };
    common::fill_reference_table(&ns);
    // The kernel adds entries of its own at any time (IPv6 multicast groups, MLD) and may
    // collect the FAILED one, so compare our dump with ip's only when ip saw the same
    // table just before and just after it; retry otherwise.
    let ip_dsts = || -> Vec<String> {
        let listed: serde_json::Value =
            serde_json::from_str(&ns.ip_ok("-j neigh show nud all")).expect("json");
        let mut v: Vec<String> = listed
            .as_array()
            .expect("list")
            .iter()
            .map(|e| {
                e["dst"]
                    .as_str()
                    .expect("dst")
                    .parse::<IpAddr>()
                    .expect("ip")
                    .to_string()
            })
            .collect();
        v.sort();
        v
    };
    for attempt in 1.. {
        let before = ip_dsts();
        let mut dsts: Vec<String> = ns.run_inside(|| {
            let mut s = open();
            let mut v = Vec::new();
            s.dump_neighbors(AF_UNSPEC, DumpFilter::default(), |m| {
                if let Some(d) = m.dst {
                    v.push(d.to_string());
                }
                Ok(())
            })
            .expect("dump");
            v
        });
        dsts.sort();
        let after = ip_dsts();
        if before != after && attempt < 10 {
            std::thread::sleep(std::time::Duration::from_millis(200));
            continue;
        }
        assert_eq!(before, after, "the table never held still for ip");
        assert!(after.len() > 10, "{after:?}");
        assert_eq!(dsts, after);
        break;
    }
}

#[test]
fn changes_are_acked_and_refusals_carry_ext_ack() {
    let Some(ns) = Netns::new("sock-ack") else {
        return;
    };
    ns.veth("va", "vb");
    let va = ifindex(&ns, "va");
    let (exists, bad_ll, missing) = ns.run_inside(move || {
        let mut s = open();
        let mut buf = [0u8; REQUEST_BUF_LEN];
        let mut new = |s: &mut RouteSocket, r: &NeighRequest<'_>| {
            let seq = s.next_seq();
            let n = wire::neigh_new(&mut buf, seq, r, NewMode::Add).expect("build");
            s.request(&buf[..n], |_| Ok(())).map(|_| ())
        };
        new(&mut s, &req(va, "10.2.0.1", Some(&[2, 0, 0, 0, 2, 1]))).expect("add");
        let exists =
            new(&mut s, &req(va, "10.2.0.1", Some(&[2, 0, 0, 0, 2, 1]))).expect_err("duplicate");
        let bad_ll =
            new(&mut s, &req(va, "10.2.0.2", Some(&[2, 0, 0, 0, 2]))).expect_err("short lladdr");
        let mut gbuf = [0u8; REQUEST_BUF_LEN];
        let seq = s.next_seq();
        let n = wire::neigh_get(&mut gbuf, seq, va, "10.2.0.99".parse().expect("ip"), false)
            .expect("build");
        let missing = s.request(&gbuf[..n], |_| Ok(())).expect_err("absent");
        let conv = |e: io::Error| KernelError::from_io(&e).cloned().expect("kernel error");
        (conv(exists), conv(bad_ll), conv(missing))
    });
    assert_eq!(
        ns.ip_ok("neigh get 10.2.0.1 dev va"),
        "10.2.0.1 dev va lladdr 02:00:00:00:02:01 PERMANENT \n"
    );
    assert_eq!(
        exists,
        KernelError {
            errno: libc::EEXIST,
            ext_ack: None
        }
    );
    assert_eq!(bad_ll.errno, libc::EINVAL);
    assert_eq!(bad_ll.ext_ack.as_deref(), Some("Invalid link address"));
    assert_eq!(missing.errno, libc::ENOENT);
    assert_eq!(missing.to_string(), "Error: Neighbour entry not found.");
}

#[test]
fn batch_reports_each_refusal_by_sequence_number() {
    let Some(ns) = Netns::new("sock-batch") else {
        return;
    };
    ns.veth("va", "vb");
    for i in 1..=3 {
        ns.ip_ok(&format!(
            "neigh add 10.3.0.{i} lladdr 02:00:00:00:03:0{i} dev va"
        ));
    }
    let va = ifindex(&ns, "va");
    let errors = ns.run_inside(move || {
        let mut s = open();
        let mut batch = Vec::new();
        let mut first = 0;
        for (k, a) in ["10.3.0.1", "10.3.0.42", "10.3.0.3"].iter().enumerate() {
            let seq = s.next_seq();
            if k == 0 {
                first = seq;
            }
            let start = batch.len();
            batch.resize(start + REQUEST_BUF_LEN, 0);
            let n = wire::neigh_del(&mut batch[start..], seq, &req(va, a, None)).expect("build");
            batch.truncate(start + ((n + 3) & !3));
        }
        let mut errors = Vec::new();
        s.request_batch(&batch, first, 3, |seq, e| {
            errors.push((seq.wrapping_sub(first), e.errno))
        })
        .expect("batch");
        errors
    });
    assert_eq!(errors, vec![(1, libc::ENOENT)]);
    assert_eq!(
        ns.ip_ok("neigh show dev va"),
        "10.3.0.2 lladdr 02:00:00:00:03:02 PERMANENT \n"
    );
}

#[test]
fn events_arrive_and_foreign_datagrams_are_dropped() {
    let Some(ns) = Netns::new("sock-events") else {
        return;
    };
    ns.veth("va", "vb");
    let va = ifindex(&ns, "va");
    let name = ns.name().to_string();
    let (seen, drops, would_block) = ns.run_inside(move || {
        let mut sub = open();
        sub.add_membership(RTNLGRP_NEIGH).expect("join");
        sub.set_nonblocking(true).expect("nonblocking");
        let would_block = sub.recv_events(|_| {}).expect_err("nothing queued").kind()
            == io::ErrorKind::WouldBlock;
        sub.set_nonblocking(false).expect("blocking");

        // A forged event, unicast to the subscriber's port by another socket.
        let forger = open();
        let fake = NeighMessage {
            kind: RTM_NEWNEIGH,
            family: AF_INET,
            ifindex: va,
            state: NudState::REACHABLE,
            dst: Some("10.66.66.66".parse::<IpAddr>().expect("ip")),
            lladdr: Some(&[2, 0x66, 0x66, 0x66, 0x66, 0x66]),
            ..Default::default()
        };
        let mut buf = [0u8; REQUEST_BUF_LEN];
        let n = fake.emit(&mut buf, 0, 0).expect("emit");
        forger
            .send_to(&buf[..n], sub.port_id())
            .expect("send forged");

        // Then a real one.
        let ok = Command::new("ip")
            .args([
                "-n",
                &name,
                "neigh",
                "add",
                "10.4.0.1",
                "lladdr",
                "02:00:00:00:04:01",
                "dev",
                "va",
            ])
            .status()
            .expect("ip");
        assert!(ok.success());
        let mut seen = Vec::new();
        while seen.is_empty() {
            sub.recv_events(|m| {
                if let Ok(nm) = NeighMessage::parse(m) {
                    seen.push(nm.dst);
                }
            })
            .expect("events");
        }
        (seen, sub.drops(), would_block)
    });
    assert!(would_block);
    assert_eq!(seen, vec![Some("10.4.0.1".parse().expect("ip"))]);
    assert_eq!(drops.foreign, 1);
}
