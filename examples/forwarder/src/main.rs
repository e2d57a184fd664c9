//! `forwarder`: the reference L3 forwarder on neigh's map (see the crate docs and
//! `examples/forwarder/README.md`).

use std::process::ExitCode;

use neigh::mirror::signal::install_stop_handlers;
use neigh::workspace::Workspace;
use neigh_forwarder::args::{self, Command, IoKind, RunArgs, USAGE};
use neigh_forwarder::counters::{Counter, Counters};
use neigh_forwarder::forward::{self, LoopConfig};
use neigh_forwarder::hops::HopSource;
use neigh_forwarder::iface::{format_mac, port_info};
use neigh_forwarder::packet::PacketPorts;
use neigh_forwarder::pipeline::{NextHops, Pipeline, PortInfo};
use neigh_forwarder::ports::Ports;
use neigh_forwarder::route::RouteTable;
use neigh_forwarder::xdp::XdpPorts;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    match args::parse(&argv) {
        Ok(Command::Help) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Command::Stats { name, json }) => stats(&name, json),
        Ok(Command::Run(a)) => match run(&a) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("forwarder: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("forwarder: {e}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn stats(name: &str, json: bool) -> ExitCode {
    let c = match Counters::open(name) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("forwarder: {e}");
            return ExitCode::FAILURE;
        }
    };
    print_counters(&c, json);
    ExitCode::SUCCESS
}

fn print_counters(c: &Counters, json: bool) {
    let values = c.read();
    if json {
        let fields: Vec<String> = values
            .iter()
            .map(|(k, v)| format!("\"{}\":{v}", k.name()))
            .collect();
        println!("{{{}}}", fields.join(","));
    } else {
        for (k, v) in values {
            println!("{} {v}", k.name());
        }
    }
}

/// The ports named by the routes, in order of first mention, and the routes over them.
fn ports_and_routes(a: &RunArgs) -> Result<(Vec<PortInfo>, RouteTable), String> {
    let mut ports: Vec<PortInfo> = Vec::new();
    let mut table = RouteTable::default();
    for r in &a.routes {
        let i = match ports.iter().position(|p| p.name == r.dev) {
            Some(i) => i,
            None => {
                ports.push(port_info(&r.dev).map_err(|e| format!("{}: {e}", r.dev))?);
                ports.len() - 1
            }
        };
        table.add(r, i);
    }
    if ports.len() > 64 {
        return Err("at most 64 interfaces".into());
    }
    Ok((ports, table))
}

fn run(a: &RunArgs) -> Result<(), String> {
    let (ports, routes) = ports_and_routes(a)?;
    let mut source = match (a.fixed_mac, &a.map) {
        (Some(mac), _) => HopSource::Fixed(mac),
        (None, Some(name)) => HopSource::join(name).map_err(|e| format!("map {name}: {e}"))?,
        (None, None) => unreachable!("the parser requires --map or --fixed-mac"),
    };
    if let NextHops::Map { ring: None, .. } = source.hops().map_err(|e| e.to_string())? {
        eprintln!("forwarder: the map has no request ring: misses are counted, not asked for");
    }
    let ifindexes: Vec<u32> = ports.iter().map(|p| p.ifindex).collect();
    let names: Vec<String> = ports
        .iter()
        .map(|p| format!("{} ({}, {})", p.name, p.ifindex, format_mac(&p.mac)))
        .collect();
    let stop = install_stop_handlers().map_err(|e| format!("signal handlers: {e}"))?;
    let mut pipeline = Pipeline::new(ports, routes, a.batch, a.hold_down_ms);
    let cfg = LoopConfig {
        batch: a.batch,
        busy_poll: a.busy_poll,
        idle_ms: 100,
    };
    let xdp = match a.io {
        IoKind::Packet => None,
        IoKind::Xdp => {
            Some(XdpPorts::open(&ifindexes, a.xdp_mode).map_err(|e| format!("AF_XDP: {e}"))?)
        }
        IoKind::Auto => match XdpPorts::open(&ifindexes, a.xdp_mode) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("forwarder: AF_XDP unavailable ({e}); using AF_PACKET");
                None
            }
        },
    };
    let result = match xdp {
        Some(mut p) => serve(&mut p, &mut pipeline, &mut source, a, &names, &cfg, stop),
        None => {
            warn_if_kernel_forwards();
            let mut p =
                PacketPorts::open(&ifindexes, a.batch).map_err(|e| format!("AF_PACKET: {e}"))?;
            serve(&mut p, &mut pipeline, &mut source, a, &names, &cfg, stop)
        }
    };
    result
}

/// Under AF_PACKET the kernel receives every frame as well: if it forwards too, each
/// packet leaves twice.
fn warn_if_kernel_forwards() {
    for knob in [
        "/proc/sys/net/ipv4/ip_forward",
        "/proc/sys/net/ipv6/conf/all/forwarding",
    ] {
        if std::fs::read_to_string(knob).is_ok_and(|v| v.trim() != "0") {
            eprintln!("forwarder: warning: {knob} is on: the kernel forwards these packets too");
        }
    }
}

/// Publishes the counters (their appearance in /dev/shm means "ready"), forwards until
/// stopped, prints the final counters, and removes them.
fn serve(
    ports: &mut impl Ports,
    pipeline: &mut Pipeline,
    source: &mut HopSource,
    a: &RunArgs,
    names: &[String],
    cfg: &LoopConfig,
    stop: &std::sync::atomic::AtomicBool,
) -> Result<(), String> {
    let counters = Counters::create(a.counters.as_deref()).map_err(|e| format!("counters: {e}"))?;
    eprintln!(
        "forwarder: {}; ports {}; batch {}; next hops from {}",
        ports.describe(),
        names.join(", "),
        cfg.batch,
        match (&a.fixed_mac, &a.map) {
            (Some(m), _) => format!("the fixed MAC {}", format_mac(m)),
            (None, Some(m)) => format!("map {m}"),
            (None, None) => "nowhere".into(),
        }
    );
    let result = forward::run(ports, pipeline, source, &counters, cfg, stop);
    print_counters(&counters, false);
    if let Some(n) = &a.counters {
        let _ = Workspace::unlink_shm(n);
    }
    eprintln!(
        "forwarder: stopped after {} frames in, {} out",
        counters.get(Counter::Rx),
        counters.get(Counter::Tx)
    );
    result.map_err(|e| e.to_string())
}
