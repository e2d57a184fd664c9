//! `neigh`: the Linux neighbor tables (ARP and NDP) in `ip neigh`'s grammar and output.
//!
//! `neigh show`, `get`, `add | replace | change | del`, `flush`, `monitor`, illumos
//! `ndp` (`ndp.rs`), `help`, and the shared-memory mirror's `mirror` and `map show|stat`;
//! `ntable` (`ip ntable`); every global option of `ip` (`options.rs`, `-n NS` in
//! `netns.rs`) and its `-batch` mode, pipelined (`batch/`). Text output is byte-identical to iproute2 6.1's `ip neigh`;
//! `-j` prints the same JSON keys and value types; errors are the one-line messages and
//! exit codes `ip` uses. Talks to the kernel through
//! [`neigh::netlink::RouteSocket`]: every datagram is checked to come from the kernel.
//!
//! Logging: `NEIGH_LOG=debug` or `RUST_LOG=debug` (env_logger syntax); warnings (e.g. a
//! dropped spoofed datagram) are on by default, and the mirror's info lines too.

mod addr;
mod batch;
mod check;
mod cli;
mod error;
mod flush;
mod get;
mod help;
mod json;
mod links;
mod map;
mod metrics_http;
mod mirror;
mod mirror_args;
mod modify;
mod monitor;
mod ndp;
mod ndp_args;
mod ndp_host;
mod ndp_table;
mod netns;
mod ntable;
mod options;
mod output;
mod prometheus;
mod protocols;
mod render;
mod resolve;
mod route_lookup;
mod service;
mod show;
mod timestamp;

use neigh::netlink::{RouteSocket, SocketOptions};

use crate::cli::{Command, Globals, Setup};
use crate::error::CliError;

fn run(argv: &[String]) -> Result<(), CliError> {
    let inv = cli::parse(argv)?;
    init_logging(&inv.cmd);
    if let Some(ns) = &inv.setup.netns {
        netns::enter(ns)?;
    }
    match &inv.cmd {
        Command::Batch(file) => batch::run(file, &inv),
        cmd => execute(cmd, &inv.g, &inv.setup),
    }
}

/// Opens the netlink socket commands talk over (`-rcvbuf` sizes its receive buffer).
pub fn open_socket(setup: &Setup) -> Result<RouteSocket, CliError> {
    let mut opts = SocketOptions::default();
    if let Some(size) = setup.rcvbuf {
        opts.rcvbuf = size as usize;
    }
    RouteSocket::open(&opts).map_err(|e| CliError::from_io(1, "Cannot open netlink socket", &e))
}

/// Runs one command (of the command line or of a batch line).
pub fn execute(cmd: &Command, g: &Globals, setup: &Setup) -> Result<(), CliError> {
    let open = || open_socket(setup);
    match cmd {
        Command::Help(topic) => help::usage(*topic),
        Command::Version => {
            println!("neigh {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Show(a) => show::show(&mut open()?, g, a),
        Command::Flush(a) => flush::flush(&mut open()?, g, a),
        Command::Get(a) => get::get(&mut open()?, g, a),
        Command::Modify(a) => modify::modify(&mut open()?, a),
        Command::Monitor(a) => monitor::monitor(g, a),
        Command::Ndp(c) => ndp::ndp(&mut open()?, c),
        Command::Mirror(cfg, svc) => mirror::mirror(cfg, svc),
        Command::Map(a) => map::map(g, a),
        Command::Ntable(c) => ntable::run(&mut open()?, g, c),
        Command::Batch(_) => Err(CliError::new(255, "-batch cannot be nested")),
    }
}

/// Logs to stderr (journald takes it from there) at the level `NEIGH_LOG`, else
/// `RUST_LOG` (env_logger syntax), else `info` for the mirror, a daemon whose start, sync,
/// overruns and stop an operator wants to see, and `warn` for the other commands.
fn init_logging(cmd: &Command) {
    let default = match cmd {
        Command::Mirror(..) => "info",
        _ => "warn",
    };
    let spec = ["NEIGH_LOG", "RUST_LOG"]
        .iter()
        .find_map(|v| std::env::var(v).ok())
        .unwrap_or_else(|| default.to_owned());
    env_logger::Builder::new()
        .parse_filters(&spec)
        .format_timestamp(None)
        .init();
}

fn main() {
    // Die quietly on a closed pipe (`neigh show | head`), as C tools do.
    let _ = neigh::sys::set_signal_default(libc::SIGPIPE);
    let argv: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if let Err(e) = run(&argv) {
        if !e.message.is_empty() {
            eprintln!("{}", e.message);
        }
        std::process::exit(e.code);
    }
}
