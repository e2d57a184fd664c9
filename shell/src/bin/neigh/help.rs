//! `neigh help` and `neigh COMMAND help`.

use std::io::Write;

use crate::cli::Topic;
use crate::error::CliError;

const HEAD: &str = "\
Usage: neigh [ OPTIONS ] COMMAND [ ARGS ]
       neigh [ OPTIONS ] [ -force ] -batch FILE
OPTIONS := { -4 | -6 | -f[amily] { inet | inet6 | link | mpls | bridge } | -0 | -M | -B |
             -s[tatistics] | -j[son] | -p[retty] | -br[ief] | -c[olor][={always|auto|never}] |
             -r[esolve] | -N[umeric] | -n[etns] NAME | -rc[vbuf] SIZE | -t[imestamp] |
             -ts[hort] | -d[etails] | -o[neline] | -h[uman] | -iec | -a[ll] | -l[oops] N |
             -echo | -V[ersion] | -he[lp] }
      Options are ip's, matched in ip's order (-b is -batch, -h is -human, -n is
      -netns); those that change nothing in ip neigh's output change nothing here.
      -n NAME runs in the network namespace /run/netns/NAME; -c colours, -br prints
      brief columns, -r host names, -N protocol numbers, as ip.
";

const NTABLE: &str = "\
  neigh ntable [ show | list ] [ dev DEV | dev none ] [ name NAME ]
  neigh ntable change name NAME [ dev DEV ] [ thresh1 VAL ] [ thresh2 VAL ]
        [ thresh3 VAL ] [ gc_int MSEC ] [ base_reachable MSEC ] [ retrans MSEC ]
        [ gc_stale MSEC ] [ delay_probe MSEC ] [ queue LEN ] [ app_probes VAL ]
        [ ucast_probes VAL ] [ mcast_probes VAL ] [ anycast_delay MSEC ]
        [ proxy_delay MSEC ] [ proxy_queue LEN ] [ locktime MSEC ]
      The neighbor tables' thresholds (gc_thresh3: \"neighbour table overflow\")
      and parameters, per table and per interface, as `ip ntable`; -s adds the
      table's config and statistics, -j JSON. `neigh ntable help`: ip's usage.
";

const BATCH: &str = "\
  neigh [ -force ] -batch { FILE | - }
      One command per line, as `ip -batch` reads it: `neigh ...` lines (also
      neighbor, neighbour and abbreviations), # comments, \\ continuations, '' and
      \"\" quoting. Changes (add, replace, change, del) are sent many per datagram;
      every refusal is still checked. A kernel refusal or a malformed line ends the
      batch with ip's exit code; `Command failed FILE:LINE` errors (unknown device,
      ...) end it too unless -force, and make the exit status 1.
";

const SHOW: &str = "\
  neigh [ show | list ] [ proxy ] [ to PREFIX ] [ dev DEV ] [ nud STATE ]...
                        [ router ] [ unused ] [ protocol PROTO ]
                        [ master DEV | vrf NAME | nomaster ] [ type TYPE ]
      No arguments: every interface's IPv4 and IPv6 table, as `ip neigh show`
      prints it (NOARP entries need `nud noarp` or `nud all`). `dev` is filtered by
      the kernel, also by an alternative name. type TYPE keeps the interfaces of one
      link type (ether, loopback, none, gre, ... or a number): `type ether` lists
      Ethernet tables only. -s adds ref/used/confirmed/updated and probes; -j prints
      `ip -j neigh` JSON, -j -p the pretty form.
";

const FLUSH: &str = "\
  neigh flush { [ to PREFIX ] [ dev DEV ] [ nud STATE ] [ proxy ]
                [ master DEV | vrf NAME | nomaster ] [ type TYPE ] | all }
      Deletes matching entries in rounds, like `ip neigh flush`: PERMANENT and
      NOARP entries are kept unless `nud permanent` / `nud all` asks for them.
      -s reports the rounds, -s -s also lists each entry deleted.
";

const GET: &str = "\
  neigh get { ADDR | proxy ADDR } dev DEV
      One entry, asked of the kernel directly (RTM_GETNEIGH).
";

const MODIFY: &str = "\
  neigh { add | replace | change | del } { ADDR [ lladdr LLADDR ] [ nud STATE ] | proxy ADDR }
        dev DEV [ router ] [ use ] [ managed ] [ extern_learn ] [ protocol PROTO ]
      add fails if the entry exists, change if it does not, replace does either.
      The default state is permanent.
";

const MONITOR: &str = "\
  neigh monitor [ label ] [ dev DEV ]
      Prints neighbor events as they happen, like `ip monitor neigh`: new and
      changed entries, `Deleted ...` and `miss ...` (a resolution request); -t or
      -ts put ip's timestamps before each, label adds [NEIGH]. With -j
      each event is one JSON object per line, with `ip -j neigh` keys plus
      \"deleted\": true or \"miss\": null.
";

const NDP: &str = "\
  neigh ndp -a                       the IPv6 table as illumos ndp prints it
                                     (netstat -p -f inet6's Net to Media Table)
  neigh ndp -A PERIOD                the same every PERIOD seconds (0 to 86400)
  neigh ndp HOST                     ADDR (NAME) at LLADDR [ router ] [ temp ]
                                     or ADDR (NAME) -- no entry, per address of HOST
  neigh ndp -s HOST LLADDR [ temp ] [ any ] [ router ]
                                     = neigh replace ADDR lladdr LLADDR dev IF
                                       nud permanent (temp: nud reachable) [ router ]
  neigh ndp -d HOST                  = neigh del ADDR dev IF
  neigh ndp -f FILE                  -s for each line HOST LLADDR [ temp ] [ any ]
                                     [ router ]; # lines skipped
      Options before these: -n (all), -i IF (HOST, -s, -d, -f).
      illumos ndp(8) for IPv6: its flags, output, messages (ndp: ...) and exit status
      (1 when anything failed). HOST is a name (getaddrinfo, IPv6; every address
      of it) or an address, ADDR%IF for a zone. The interface: -i IF, else the
      zone, else the one the route to ADDR leaves by (RTM_GETROUTE); link-local
      addresses need -i or a zone. -n prints addresses instead of host names. -i is
      ignored with -a and -A, as in ndp. Also read: show | list (-a), get HOST,
      set (-s), delete | del (-d), dev IF (-i IF), a trailing -i IF, and proxy
      after -s (a proxy entry, NTF_PROXY).
      SIOCLIF*ND on Linux (RTM_GETNEIGH, RTM_NEWNEIGH replace, RTM_DELNEIGH):
        ND_INCOMPLETE      INCOMPLETE (no lladdr: HOST prints -- no entry)
        ND_REACHABLE       REACHABLE; also PERMANENT and NOARP entries
        ND_STALE, ND_DELAY, ND_PROBE   STALE, DELAY, PROBE
        ND_UNREACHABLE     FAILED (-- no entry)
        ND_UNCHANGED, ND_INITIAL       NONE (-a prints UNKNOWN)
        NDF_STATIC         nud permanent (-a type static); without it: temp,
                           nud reachable (type dynamic); NOARP: type other
        NDF_ISROUTER_ON/OFF   router / no router (NTF_ROUTER)
        NDF_ANYCAST_ON/OFF    no Linux equivalent: `any` is warned about on
                              stderr and the entry set without it
        NDF_PROXY_ON/OFF      proxy entries (NTF_PROXY), not listed by -a
                              (neigh -6 show proxy)
        local entries      none: Linux keeps no neighbor entry for its own addresses
";

const MIRROR: &str = "\
  neigh mirror ...  |  neigh map { show | stat | check } ...
      The shared-memory mirror of the tables and its map: see `neigh mirror help`
      and `neigh map help`.
";

/// Help for `neigh mirror`.
const MIRROR_HELP: &str = "\
Usage: neigh mirror --map NAME [--capacity N] [--rcvbuf BYTES] [--ring CELLS]
                    [--rate PER_SEC] [--hold-down MS] [--resolve-udp] [--resync-interval SECS]
                    [--hugetlb DIR] [--metrics [ADDR:]PORT] [dev IF ...] [-4 | -6]

Keeps the shared-memory map /dev/shm/NAME equal to the kernel's neighbor tables
(subscribe, dump, apply events; re-dump on overruns) until SIGINT or SIGTERM.
Readers join it with `neigh map show NAME` or the C API. Under systemd (NOTIFY_SOCKET)
it sends READY=1 after the first dump, STATUS= lines and WATCHDOG=1 pings. It logs to
stderr at info level (NEIGH_LOG or RUST_LOG change it).

  --map NAME        region name in /dev/shm (mode 0600, its space reserved); printable
                    UTF-8 without '/', not starting with '-'. The region of a mirror
                    that is gone is taken over in place (readers keep it); another
                    size makes a new one, the old one marked superseded
  --capacity N      entries to size the map for, 1 to 536870912 (default 65536)
  --rcvbuf BYTES    event socket receive buffer (default 8388608, SO_RCVBUFFORCE)
  --ring CELLS      resolution request ring cells, a power of two up to 16777216;
                    0 disables (default 1024)
  --rate PER_SEC    resolutions asked of the kernel per second, up to 1000000 (default 200)
  --hold-down MS    ask for the same neighbor at most once per MS (default 1000)
  --resolve-udp     resolve by sending a TTL-1 UDP datagram instead of NTF_USE
                    (the automatic fallback without CAP_NET_ADMIN)
  --resync-interval SECS
                    re-dump this often even without a lost sync, to pick up what the
                    kernel does not announce (entries created unresolved, multicast
                    NOARP entries); 0 disables (default 30)
  --hugetlb DIR     back the region with a file in the hugetlbfs mounted at DIR (falls
                    back to /dev/shm when no huge pages are free)
  --metrics [ADDR:]PORT
                    serve the map's figures at http://ADDR:PORT/metrics in the
                    Prometheus text format (ADDR defaults to 127.0.0.1)
  dev IF            mirror only these interfaces (repeatable)
  -4, -6            mirror only IPv4 (ARP) or IPv6 (NDP) neighbors
";

/// Help for `neigh map`.
const MAP_HELP: &str = "\
Usage: neigh map show NAME [-j]
       neigh map stat NAME [-j | --prometheus]
       neigh map check NAME [--max-age MS]

Reads the map a `neigh mirror --map NAME` maintains, read-only and without netlink,
as a data plane does. Exit status 3 when the mirror's heartbeat is stale (crashed),
4 when `show` could not read some slots (a writer died in the middle of a move).

  --prometheus      the figures in the Prometheus text format (neigh_mirror_*)
  check             exit 0 when a live mirror is synced with a fresh heartbeat (at
                    most MS old; default 3 heartbeat periods), else 1 with one line:
                    no such map, writer stopped, writer gone, heartbeat stale, not yet
                    synced, map full
";

const STATES: &str = "\
STATE := { permanent | noarp | stale | reachable | none | incomplete |
           delay | probe | failed | all (filters only) }
";

/// `neigh help`, `neigh COMMAND help`: the usage on stderr and exit 255, as ip prints
/// its usage (scripts probe for a feature that way); the mirror's `mirror help` and
/// `map help` print on stdout and succeed, as those commands' own conventions go.
pub fn usage(topic: Topic) -> Result<(), CliError> {
    let text = text(topic);
    if matches!(topic, Topic::Mirror | Topic::Map) {
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
        return Ok(());
    }
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
    Err(CliError::new(255, ""))
}

/// The usage text for `topic`.
pub fn text(topic: Topic) -> String {
    let body = match topic {
        Topic::All => return format!("{HEAD}\n{SHOW}\n{GET}\n{MODIFY}\n{FLUSH}\n{MONITOR}\n{NTABLE}\n{BATCH}\n{NDP}\n{MIRROR}\n  neigh help [ COMMAND ]\n\n{STATES}"),
        Topic::Show => SHOW,
        Topic::Flush => FLUSH,
        Topic::Get => GET,
        Topic::Modify => MODIFY,
        Topic::Monitor => MONITOR,
        // ndp's grammar is its own, not ip's: no OPTIONS header.
        Topic::Ndp => return format!("Usage: {NDP}"),
        // The mirror's commands have their own usage texts.
        Topic::Mirror => return MIRROR_HELP.to_owned(),
        Topic::Map => return MAP_HELP.to_owned(),
    };
    format!("{HEAD}\n{body}\n{STATES}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_topic_mentions_its_command() {
        assert!(text(Topic::All).contains("neigh ndp -d HOST"));
        assert!(text(Topic::Show).contains("neigh [ show"));
        assert!(text(Topic::Flush).contains("neigh flush"));
        assert!(text(Topic::Get).contains("neigh get"));
        assert!(text(Topic::Modify).contains("replace"));
        assert!(text(Topic::Monitor).contains("neigh monitor"));
        assert!(text(Topic::Ndp).contains("NDF_ANYCAST_ON"));
        assert!(text(Topic::Mirror).starts_with("Usage: neigh mirror --map NAME"));
        assert!(text(Topic::Map).contains("neigh map stat NAME"));
    }

    /// The man page shipped in the package documents every command and every option
    /// the help texts name.
    #[test]
    fn man_page_covers_every_command_and_option() {
        let man = include_str!("../../../../dist/neigh.8").replace("\\-", "-");
        for cmd in [
            "neigh show",
            "neigh list",
            "neigh get",
            "neigh add",
            "replace",
            "change",
            "del",
            "neigh flush",
            "neigh monitor",
            "neigh ndp",
            "neigh mirror",
            "neigh map show",
            "neigh map stat",
            "neigh map check",
            "neigh ntable",
            "-batch",
            "-netns",
            "neigh help",
        ] {
            assert!(man.contains(cmd), "man page lacks {cmd}");
        }
        let help = [Topic::All, Topic::Mirror, Topic::Map].map(text).concat();
        for opt in help.split(|c: char| c.is_whitespace() || c == '[' || c == ']') {
            if opt.starts_with("--") && opt.len() > 2 {
                assert!(man.contains(opt), "man page lacks {opt}");
            }
        }
    }
}
