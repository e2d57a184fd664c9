//! `neigh`: the Linux neighbor tables (ARP and NDP) in `ip neigh`'s grammar and output.
//!
//! `neigh show`, `get`, `add | replace | change | del`, `flush`, `monitor`, the illumos
//! style `ndp` verbs, `help`, and the shared-memory mirror's `mirror` and `map show|stat`. Text output is byte-identical to iproute2 6.1's
//! `ip neigh`; `-j` prints the same JSON keys and value types; errors are the one-line
//! messages and exit codes `ip` uses. Talks to the kernel through
//! [`neigh::netlink::RouteSocket`]: every datagram is checked to come from the kernel.
//!
//! Logging: `NEIGH_LOG=debug` (env_logger syntax); warnings (e.g. a dropped spoofed
//! datagram) are on by default.

mod addr;
mod cli;
mod error;
mod get;
mod help;
mod json;
mod links;
mod map;
mod mirror;
mod mirror_args;
mod modify;
mod monitor;
mod ndp;
mod output;
mod protocols;
mod render;
mod show;

use std::io::Write;

use neigh::netlink::{RouteSocket, SocketOptions};

use crate::cli::Command;
use crate::error::CliError;

fn run(argv: &[String]) -> Result<(), CliError> {
    let (g, cmd) = cli::parse(argv)?;
    let open = || {
        RouteSocket::open(&SocketOptions::default())
            .map_err(|e| CliError::from_io(1, "Cannot open netlink socket", &e))
    };
    match &cmd {
        Command::Help(topic) => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(help::text(*topic).as_bytes());
            Ok(())
        }
        Command::Version => {
            println!("neigh {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Show(a) => show::show(&mut open()?, &g, a),
        Command::Flush(a) => show::flush(&mut open()?, &g, a),
        Command::Get(a) => get::get(&mut open()?, &g, a),
        Command::Modify(a) => modify::modify(&mut open()?, a),
        Command::Monitor(a) => monitor::monitor(&g, a),
        Command::Ndp(c) => ndp::ndp(&mut open()?, &g, c),
        Command::Mirror(cfg) => mirror::mirror(cfg),
        Command::Map(a) => map::map(&g, a),
    }
}

fn main() {
    // Die quietly on a closed pipe (`neigh show | head`), as C tools do.
    let _ = neigh::sys::set_signal_default(libc::SIGPIPE);
    env_logger::Builder::from_env(env_logger::Env::new().filter_or("NEIGH_LOG", "warn"))
        .format_timestamp(None)
        .init();
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
