//! The command line.
//!
//! ```text
//! forwarder --map NAME --route PREFIX [via NEXTHOP] dev IF [--route ...]
//!           [--io auto|xdp|packet] [--xdp-mode auto|native|generic] [--batch N]
//!           [--counters NAME] [--hold-down MS] [--busy-poll] [--fixed-mac MAC]
//! forwarder stats NAME [-j]
//! ```

use std::fmt;

use neigh_core::Mac;

use crate::route::RouteSpec;
use crate::xdp::XdpMode;

/// The usage text.
pub const USAGE: &str = "\
usage: forwarder --map NAME --route PREFIX [via NEXTHOP] dev IF [--route ...]
                 [--io auto|xdp|packet] [--xdp-mode auto|native|generic] [--batch N]
                 [--counters NAME] [--hold-down MS] [--busy-poll] [--fixed-mac MAC]
       forwarder stats NAME [-j]

Forwards IPv4 and IPv6 between the interfaces named in the routes, taking each next
hop's MAC from the map that `neigh mirror --map NAME` keeps, one burst lookup per
receive batch. A next hop the map lacks (or holds unresolved) is asked for through the
map's request ring and the packet dropped. Runs until SIGINT or SIGTERM.

  --map NAME          the mirror's map, /dev/shm/NAME (joined read-write: requests)
  --route ...         a static route; without `via`, the destination is the next hop
  --io                AF_XDP (xdp), AF_PACKET with TPACKET_V3 (packet), or AF_XDP when it
                      works and AF_PACKET otherwise (auto, the default)
  --xdp-mode          attach the XDP program natively, generically (SKB), or natively
                      when the driver can (auto, the default)
  --batch N           frames per receive batch and keys per burst lookup (default 32)
  --counters NAME     publish the counters in /dev/shm/NAME while running
                      (read them with `forwarder stats NAME`)
  --hold-down MS      ask for the same next hop at most once per MS (default 100)
  --busy-poll         never sleep in poll(2) when idle
  --fixed-mac MAC     no map: send every packet to MAC (the lookup-free baseline of the
                      benchmark)

`forwarder stats NAME` prints a running forwarder's counters (-j: one JSON object).";

/// Which socket family moves the frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoKind {
    /// AF_XDP, falling back to AF_PACKET.
    Auto,
    /// AF_XDP only.
    Xdp,
    /// AF_PACKET only.
    Packet,
}

/// `forwarder ...`: what to run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunArgs {
    pub map: Option<String>,
    pub routes: Vec<RouteSpec>,
    pub io: IoKind,
    pub xdp_mode: XdpMode,
    pub batch: usize,
    pub counters: Option<String>,
    pub hold_down_ms: u64,
    pub busy_poll: bool,
    pub fixed_mac: Option<Mac>,
}

/// A parsed command line.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Run(RunArgs),
    Stats { name: String, json: bool },
    Help,
}

/// A usage error, printed with [`USAGE`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Option<Mac> {
    let mut m = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut m {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(m)
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Command, UsageError> {
    let err = |m: String| Err(UsageError(m));
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["stats", name] => {
            return Ok(Command::Stats {
                name: (*name).to_owned(),
                json: false,
            })
        }
        ["stats", name, "-j"] | ["stats", "-j", name] => {
            return Ok(Command::Stats {
                name: (*name).to_owned(),
                json: true,
            })
        }
        ["stats", ..] => return err("stats takes NAME [-j]".into()),
        ["help" | "-h" | "--help"] => return Ok(Command::Help),
        _ => {}
    }
    let mut a = RunArgs {
        map: None,
        routes: Vec::new(),
        io: IoKind::Auto,
        xdp_mode: XdpMode::Auto,
        batch: 32,
        counters: None,
        hold_down_ms: 100,
        busy_poll: false,
        fixed_mac: None,
    };
    let mut i = 0;
    while i < words.len() {
        let opt = words[i];
        let value = |k: usize| -> Result<&str, UsageError> {
            words
                .get(i + k)
                .copied()
                .ok_or_else(|| UsageError(format!("{opt} needs a value")))
        };
        match opt {
            "--map" => a.map = Some(value(1)?.to_owned()),
            "--route" => {
                let end = words[i + 1..]
                    .iter()
                    .position(|w| w.starts_with("--"))
                    .map_or(words.len(), |p| i + 1 + p);
                let spec =
                    RouteSpec::parse(&words[i + 1..end]).map_err(|e| UsageError(e.to_string()))?;
                a.routes.push(spec);
                i = end;
                continue;
            }
            "--io" => {
                a.io = match value(1)? {
                    "auto" => IoKind::Auto,
                    "xdp" => IoKind::Xdp,
                    "packet" => IoKind::Packet,
                    v => return err(format!("--io {v}: expected auto, xdp or packet")),
                }
            }
            "--xdp-mode" => {
                a.xdp_mode = match value(1)? {
                    "auto" => XdpMode::Auto,
                    "native" => XdpMode::Native,
                    "generic" | "skb" => XdpMode::Generic,
                    v => return err(format!("--xdp-mode {v}: expected auto, native or generic")),
                }
            }
            "--batch" => {
                a.batch = value(1)?
                    .parse()
                    .ok()
                    .filter(|b| (1..=1024).contains(b))
                    .ok_or_else(|| UsageError("--batch: 1 to 1024".into()))?
            }
            "--counters" => a.counters = Some(value(1)?.to_owned()),
            "--hold-down" => {
                a.hold_down_ms = value(1)?
                    .parse()
                    .map_err(|_| UsageError("--hold-down: milliseconds".into()))?
            }
            "--fixed-mac" => {
                a.fixed_mac = Some(
                    parse_mac(value(1)?)
                        .ok_or_else(|| UsageError("--fixed-mac: aa:bb:cc:dd:ee:ff".into()))?,
                )
            }
            "--busy-poll" => {
                a.busy_poll = true;
                i += 1;
                continue;
            }
            w => return err(format!("unexpected {w:?}")),
        }
        i += 2;
    }
    if a.routes.is_empty() {
        return err("at least one --route is needed".into());
    }
    if a.map.is_none() && a.fixed_mac.is_none() {
        return err("--map NAME is needed (or --fixed-mac)".into());
    }
    Ok(Command::Run(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> Result<Command, UsageError> {
        parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn a_full_command_line() {
        let Ok(Command::Run(a)) = parse_str(
            "--map m --route 10.1.2.0/24 via 10.1.2.2 dev b --route 2001:db8:2::/64 dev b \
             --io packet --batch 64 --counters c --busy-poll --hold-down 50",
        ) else {
            panic!("parses")
        };
        assert_eq!(a.map.as_deref(), Some("m"));
        assert_eq!(a.routes.len(), 2);
        assert_eq!(a.routes[1].via, None);
        assert_eq!(a.io, IoKind::Packet);
        assert_eq!(a.batch, 64);
        assert_eq!(a.counters.as_deref(), Some("c"));
        assert!(a.busy_poll);
        assert_eq!(a.hold_down_ms, 50);
    }

    #[test]
    fn refusals() {
        for bad in [
            "--route 10.0.0.0/8 dev a",
            "--map m",
            "--map m --route 10.0.0.0/8 via dev a",
            "--map m --route 10.0.0.0/8 dev a --batch 0",
            "--map m --route 10.0.0.0/8 dev a --io dpdk",
            "--map m --route 10.0.0.0/8 dev a --bogus",
            "--map m --route 10.0.0.0/8 dev a --fixed-mac 02:00",
            "stats",
        ] {
            assert!(parse_str(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_str("stats c -j"),
            Ok(Command::Stats {
                name: "c".into(),
                json: true
            })
        );
        assert_eq!(parse_mac("02:0a:ff:00:01:2"), Some([2, 10, 255, 0, 1, 2]));
        assert_eq!(parse_mac("02:0a:ff:00:01:2:3"), None);
    }
}
