//! `neigh ntable`: the neighbor tables' parameters and statistics, as `ip ntable` shows
//! and changes them (iproute2 6.1's `ipntable.c`: grammar, output, errors).

use std::fmt::Write as _;

use neigh::netlink::{KernelError, RouteSocket};
use neigh_core::wire::ntable::{ntable_dump, ntable_set, NdtConfig, NdtStats};
use neigh_core::wire::request::REQUEST_BUF_LEN;
use neigh_core::wire::{NtableChange, NtableMessage, NtableParms};

use crate::cli::{matches, Globals};
use crate::error::CliError;
use crate::json::JsonWriter;
use crate::links::LinkTable;
use crate::output::Output;

/// `ntable show` filters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShowArgs {
    /// `dev DEV` (`dev none`: the tables' own parameters only).
    pub dev: Option<String>,
    /// `name NAME`.
    pub name: Option<String>,
}

/// `ntable change name NAME [dev DEV] PARAM VALUE...`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeArgs {
    pub name: String,
    pub dev: Option<String>,
    pub thresh1: Option<u32>,
    pub thresh2: Option<u32>,
    pub thresh3: Option<u32>,
    pub gc_interval: Option<u64>,
    pub parms: NtableParms,
}

/// A parsed `neigh ntable` command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NtableCommand {
    Show(ShowArgs),
    Change(Box<ChangeArgs>),
    /// `ntable help`: its usage, exit 255.
    Help,
}

/// The usage of `neigh ntable` (ip's, naming neigh).
pub const USAGE: &str = "\
Usage: neigh ntable change name NAME [ dev DEV ]
          [ thresh1 VAL ] [ thresh2 VAL ] [ thresh3 VAL ] [ gc_int MSEC ]
          [ PARMS ]
Usage: neigh ntable show [ dev DEV ] [ name NAME ]
PARMS := [ base_reachable MSEC ] [ retrans MSEC ] [ gc_stale MSEC ]
         [ delay_probe MSEC ] [ queue LEN ]
         [ app_probes VAL ] [ ucast_probes VAL ] [ mcast_probes VAL ]
         [ anycast_delay MSEC ] [ proxy_delay MSEC ] [ proxy_queue LEN ]
         [ locktime MSEC ]
";

/// Parses the words after `ntable` as `do_ipntable` does. Errors: ip's texts (`Command
/// "X" is unknown, try "neigh ntable help".`, `Error: argument "X" is wrong: unknown`,
/// missing or bad values), exit 255.
pub fn parse(words: &[String]) -> Result<NtableCommand, CliError> {
    let Some((verb, rest)) = words.split_first() else {
        return Ok(NtableCommand::Show(ShowArgs::default()));
    };
    let v = verb.as_str();
    if matches(v, "change") || matches(v, "chg") {
        change_args(rest).map(|a| NtableCommand::Change(Box::new(a)))
    } else if matches(v, "show") || matches(v, "lst") || matches(v, "list") {
        show_args(rest).map(NtableCommand::Show)
    } else if matches(v, "help") {
        Ok(NtableCommand::Help)
    } else {
        Err(CliError::new(
            255,
            format!("Command \"{v}\" is unknown, try \"neigh ntable help\"."),
        ))
    }
}

fn show_args(words: &[String]) -> Result<ShowArgs, CliError> {
    let mut a = ShowArgs::default();
    let mut it = words.iter();
    while let Some(w) = it.next() {
        match w.as_str() {
            "dev" => a.dev = Some(it.next().ok_or_else(CliError::incomplete)?.clone()),
            "name" => a.name = Some(it.next().ok_or_else(CliError::incomplete)?.clone()),
            other => return Err(CliError::invarg("unknown", other)),
        }
    }
    Ok(a)
}

/// iproute2's `get_u32` / `get_u64` (strtoul, base 0, the whole word).
fn number(word: &str) -> Option<u64> {
    let (radix, digits) =
        if let Some(h) = word.strip_prefix("0x").or_else(|| word.strip_prefix("0X")) {
            (16, h)
        } else if word.len() > 1 && word.starts_with('0') {
            (8, &word[1..])
        } else {
            (10, word)
        };
    if digits.is_empty() || !digits.bytes().all(|b| (b as char).is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

fn change_args(words: &[String]) -> Result<ChangeArgs, CliError> {
    let mut a = ChangeArgs::default();
    let mut name: Option<String> = None;
    let (mut thresholds, mut parms_change) = (false, false);
    let mut it = words.iter();
    while let Some(w) = it.next() {
        let key = w.as_str();
        let mut value = || {
            it.next()
                .map(String::as_str)
                .ok_or_else(CliError::incomplete)
        };
        let bad = |v: &str| CliError::invarg(&format!("\"{key}\" value is invalid"), v);
        let u32_of = |v: &str| {
            number(v)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| bad(v))
        };
        let u64_of = |v: &str| number(v).ok_or_else(|| bad(v));
        match key {
            "name" => {
                let v = value()?;
                if name.is_some() {
                    return Err(CliError::duparg("NAME", v));
                }
                name = Some(v.to_owned());
            }
            "thresh1" => {
                a.thresh1 = Some(u32_of(value()?)?);
                thresholds = true;
            }
            "thresh2" => {
                a.thresh2 = Some(u32_of(value()?)?);
                thresholds = true;
            }
            "thresh3" => {
                a.thresh3 = Some(u32_of(value()?)?);
                thresholds = true;
            }
            "gc_int" => {
                a.gc_interval = Some(u64_of(value()?)?);
                thresholds = true;
            }
            "dev" => a.dev = Some(value()?.to_owned()),
            _ => {
                let p = &mut a.parms;
                let v = value();
                match key {
                    "base_reachable" => p.base_reachable = Some(u64_of(v?)?),
                    "retrans" => p.retrans = Some(u64_of(v?)?),
                    "gc_stale" => p.gc_stale = Some(u64_of(v?)?),
                    "delay_probe" => p.delay_probe = Some(u64_of(v?)?),
                    "queue" => p.queue = Some(u32_of(v?)?),
                    "app_probes" => p.app_probes = Some(u32_of(v?)?),
                    "ucast_probes" => p.ucast_probes = Some(u32_of(v?)?),
                    "mcast_probes" => p.mcast_probes = Some(u32_of(v?)?),
                    "anycast_delay" => p.anycast_delay = Some(u64_of(v?)?),
                    "proxy_delay" => p.proxy_delay = Some(u64_of(v?)?),
                    "proxy_queue" => p.proxy_queue = Some(u32_of(v?)?),
                    "locktime" => p.locktime = Some(u64_of(v?)?),
                    _ => return Err(CliError::invarg("unknown", key)),
                }
                parms_change = true;
            }
        }
    }
    a.name = name.ok_or_else(|| CliError::new(255, "Error: argument \"NAME\" is required"))?;
    if !thresholds && !parms_change {
        return Err(CliError::new(
            255,
            "Not enough information: changeable attributes required.",
        ));
    }
    Ok(a)
}

/// Runs a parsed `ntable` command.
pub fn run(sock: &mut RouteSocket, g: &Globals, cmd: &NtableCommand) -> Result<(), CliError> {
    match cmd {
        NtableCommand::Help => {
            eprint!("{USAGE}");
            Err(CliError::new(255, ""))
        }
        NtableCommand::Show(a) => show(sock, g, a),
        NtableCommand::Change(a) => change(sock, g, a),
    }
}

/// Which interface `show` keeps.
#[derive(Clone, Copy, PartialEq, Eq)]
enum DevFilter {
    Any,
    /// `dev none`: the tables' own parameters.
    TableOnly,
    Index(u32),
}

fn load_links(sock: &mut RouteSocket) -> Result<LinkTable, CliError> {
    LinkTable::load(sock).map_err(|e| CliError::from_io(1, "Cannot send dump request", &e))
}

/// `ntable show`: one dump, filtered and printed as `print_ntable` does.
fn show(sock: &mut RouteSocket, g: &Globals, a: &ShowArgs) -> Result<(), CliError> {
    let links = load_links(sock)?;
    let dev = match a.dev.as_deref() {
        None => DevFilter::Any,
        Some("none") => DevFilter::TableOnly,
        Some(d) => DevFilter::Index(
            links
                .index_of(d)
                .ok_or_else(|| CliError::invarg("\"DEV\" is invalid", d))?,
        ),
    };
    let mut req = [0u8; REQUEST_BUF_LEN];
    let seq = sock.next_seq();
    let n = ntable_dump(&mut req, seq, g.family)
        .map_err(|e| CliError::new(1, format!("Cannot send dump request: {e}")))?;
    let mut out = Output::new();
    let mut json = g.json.then(|| JsonWriter::new(g.pretty));
    if let Some(j) = &mut json {
        j.start_array(&mut out.buf);
    }
    let printer = Printer {
        links: &links,
        stats: g.stats > 0,
        nl: if g.oneline { "\\" } else { "\n" },
        ifname_color: crate::render::ifname_color(g),
    };
    let res = sock.request(&req[..n], |msg| {
        let Ok(t) = NtableMessage::parse(msg) else {
            return Ok(());
        };
        if !keep(&t, g.family, a.name.as_deref(), dev) {
            return Ok(());
        }
        match &mut json {
            Some(j) => printer.json(j, &mut out.buf, &t),
            None => printer.text(&mut out.buf, &t),
        }
        out.maybe_flush()
    });
    if let Err(e) = res {
        let _ = out.flush();
        let first = CliError::from_io(1, "Dump terminated", &e);
        return Err(if KernelError::from_io(&e).is_some() {
            CliError::new(1, format!("{}\nDump terminated", first.message))
        } else {
            first
        });
    }
    if let Some(j) = &mut json {
        j.end_array(&mut out.buf);
        out.buf.push(b'\n');
    }
    out.flush().map_err(|e| CliError::from_io(1, "write", &e))
}

/// `print_ntable`'s filter: family, name, interface.
fn keep(t: &NtableMessage<'_>, family: u8, name: Option<&str>, dev: DevFilter) -> bool {
    if family != 0 && family != t.family {
        return false;
    }
    if let (Some(want), Some(got)) = (name, t.name) {
        if want.as_bytes() != got {
            return false;
        }
    }
    match (t.parms, dev) {
        (_, DevFilter::Any) | (None, _) => true,
        (Some(p), DevFilter::Index(i)) => p.ifindex == Some(i),
        (Some(p), DevFilter::TableOnly) => p.ifindex.is_none(),
    }
}

/// iproute2's `family_name`.
fn family_name(family: u8) -> String {
    match family {
        0 => "unspec".into(),
        2 => "inet".into(),
        10 => "inet6".into(),
        7 => "bridge".into(),
        17 => "link".into(),
        28 => "mpls".into(),
        f => format!("<{f}>"),
    }
}

/// iproute2's `ntable_strtime_delta`: the local time `msec` ago, `(error)` for 0.
fn strtime_delta(msec: u32) -> String {
    if msec == 0 {
        return "(error)".into();
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as libc::time_t;
    let t = now - libc::time_t::from(msec / 1000);
    // SAFETY: `tm` is plain data localtime_r fills; both pointers are valid for the call.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return "(error)".into();
        }
        tm
    };
    format!(
        "{}-{:02}-{:02} {:02}:{:02}:{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

/// One value of the output: its JSON key, its text format (`KEY VALUE `), its value.
enum Value {
    U(u64),
    S(String),
}

/// Prints table messages as text or JSON.
struct Printer<'a> {
    links: &'a LinkTable,
    stats: bool,
    /// `_SL_`: a newline, or `\` with `-o`.
    nl: &'static str,
    /// `-c`: the colour of interface names.
    ifname_color: Option<&'static str>,
}

impl Printer<'_> {
    /// The groups of values in print order: each inner list is one text line (after
    /// the 4-space indent), named by its JSON keys and its text words.
    fn groups(&self, t: &NtableMessage<'_>) -> Vec<(Group, Values)> {
        let mut g = Vec::new();
        let thresholds: Vec<_> = [
            ("thresh1", "thresh1", t.thresh1.map(u64::from)),
            ("thresh2", "thresh2", t.thresh2.map(u64::from)),
            ("thresh3", "thresh3", t.thresh3.map(u64::from)),
            ("gc_interval", "gc_int", t.gc_interval),
        ]
        .into_iter()
        .filter_map(|(k, w, v)| v.map(|v| (k, w, Value::U(v))))
        .collect();
        if !thresholds.is_empty() {
            g.push((Group::Line, thresholds));
        }
        if let (Some(c), true) = (t.config, self.stats) {
            g.extend(config(&c));
        }
        if let Some(p) = t.parms {
            if let Some(i) = p.ifindex {
                let mut name = Vec::new();
                self.links.push_name(&mut name, i);
                g.push((
                    Group::Dev,
                    vec![(
                        "dev",
                        "dev",
                        Value::S(String::from_utf8_lossy(&name).into_owned()),
                    )],
                ));
            }
            g.extend(parms(&p));
        }
        if let (Some(s), true) = (t.stats, self.stats) {
            g.extend(stats(&s));
        }
        g
    }

    fn text(&self, out: &mut Vec<u8>, t: &NtableMessage<'_>) {
        let mut s = format!("{} ", family_name(t.family));
        if let Some(n) = t.name {
            s.push_str(&String::from_utf8_lossy(n));
            s.push(' ');
        }
        s.push_str(self.nl);
        for (group, values) in self.groups(t) {
            s.push_str(match group {
                Group::Line | Group::Dev => "    ",
                Group::Continued => "        ",
            });
            for (_, word, v) in values {
                match v {
                    Value::U(n) if word == "hash_mask" => {
                        let _ = write!(s, "{word} {n:08x} ");
                    }
                    Value::U(n) => {
                        let _ = write!(s, "{word} {n} ");
                    }
                    Value::S(x) if word == "dev" => {
                        let mut b = Vec::new();
                        crate::render::paint(&mut b, self.ifname_color, |o| {
                            o.extend_from_slice(x.as_bytes());
                            o.push(b' ');
                        });
                        let _ = write!(s, "dev {}", String::from_utf8_lossy(&b));
                    }
                    Value::S(x) => {
                        let _ = write!(s, "{word} {x} ");
                    }
                }
            }
            s.push_str(self.nl);
        }
        s.push('\n');
        out.extend_from_slice(s.as_bytes());
    }

    fn json(&self, j: &mut JsonWriter, out: &mut Vec<u8>, t: &NtableMessage<'_>) {
        j.start_object(out);
        j.name(out, "family");
        j.string(out, family_name(t.family).as_bytes());
        if let Some(n) = t.name {
            j.name(out, "name");
            j.string(out, n);
        }
        for (_, values) in self.groups(t) {
            for (key, word, v) in values {
                j.name(out, key);
                match v {
                    Value::U(n) if word == "hash_mask" => {
                        j.string(out, format!("{n:#x}").as_bytes());
                    }
                    Value::U(n) => j.uint(out, n),
                    Value::S(x) => j.string(out, x.as_bytes()),
                }
            }
        }
        j.end_object(out);
    }
}

/// How a group of values starts in text.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Group {
    /// A line indented by 4.
    Line,
    /// A continuation line of `config`, indented by 8.
    Continued,
    /// `    dev NAME `.
    Dev,
}

/// A group's values: (JSON key, text words, value).
type Values = Vec<(&'static str, &'static str, Value)>;

/// `print_ndtconfig`.
fn config(c: &NdtConfig) -> [(Group, Values); 3] {
    [
        (
            Group::Line,
            vec![
                (
                    "key_length",
                    "config key_len",
                    Value::U(c.key_len.get().into()),
                ),
                (
                    "entry_size",
                    "entry_size",
                    Value::U(c.entry_size.get().into()),
                ),
                ("entries", "entries", Value::U(c.entries.get().into())),
            ],
        ),
        (
            Group::Continued,
            vec![
                (
                    "last_flush",
                    "last_flush",
                    Value::S(strtime_delta(c.last_flush.get())),
                ),
                (
                    "last_rand",
                    "last_rand",
                    Value::S(strtime_delta(c.last_rand.get())),
                ),
            ],
        ),
        (
            Group::Continued,
            vec![
                ("hash_rnd", "hash_rnd", Value::U(c.hash_rnd.get().into())),
                ("hash_mask", "hash_mask", Value::U(c.hash_mask.get().into())),
                (
                    "hash_chain_gc",
                    "hash_chain_gc",
                    Value::U(c.hash_chain_gc.get().into()),
                ),
                (
                    "proxy_qlen",
                    "proxy_qlen",
                    Value::U(c.proxy_qlen.get().into()),
                ),
            ],
        ),
    ]
}

/// `print_ndtparams` (after `dev`): four lines, each value only when present.
fn parms(p: &NtableParms) -> [(Group, Values); 4] {
    let line = |v: [(&'static str, Option<u64>); 4]| -> Values {
        v.into_iter()
            .filter_map(|(k, x)| x.map(|x| (k, k, Value::U(x))))
            .collect()
    };
    let w = |v: Option<u32>| v.map(u64::from);
    [
        (
            Group::Line,
            line([
                ("refcnt", w(p.refcnt)),
                ("reachable", p.reachable),
                ("base_reachable", p.base_reachable),
                ("retrans", p.retrans),
            ]),
        ),
        (
            Group::Line,
            line([
                ("gc_stale", p.gc_stale),
                ("delay_probe", p.delay_probe),
                ("queue", w(p.queue)),
                ("", None),
            ]),
        ),
        (
            Group::Line,
            line([
                ("app_probes", w(p.app_probes)),
                ("ucast_probes", w(p.ucast_probes)),
                ("mcast_probes", w(p.mcast_probes)),
                ("", None),
            ]),
        ),
        (
            Group::Line,
            line([
                ("anycast_delay", p.anycast_delay),
                ("proxy_delay", p.proxy_delay),
                ("proxy_queue", w(p.proxy_queue)),
                ("locktime", p.locktime),
            ]),
        ),
    ]
}

/// `print_ndtstats`.
fn stats(s: &NdtStats) -> [(Group, Values); 5] {
    let v = |k: &'static str, x: u64| (k, k, Value::U(x));
    [
        (
            Group::Line,
            vec![
                ("allocs", "stats allocs", Value::U(s.allocs.get())),
                v("destroys", s.destroys.get()),
                v("hash_grows", s.hash_grows.get()),
            ],
        ),
        (
            Group::Line,
            vec![
                v("res_failed", s.res_failed.get()),
                v("lookups", s.lookups.get()),
                v("hits", s.hits.get()),
            ],
        ),
        (
            Group::Line,
            vec![
                v("rcv_probes_mcast", s.rcv_probes_mcast.get()),
                v("rcv_probes_ucast", s.rcv_probes_ucast.get()),
            ],
        ),
        (
            Group::Line,
            vec![
                v("periodic_gc_runs", s.periodic_gc_runs.get()),
                v("forced_gc_runs", s.forced_gc_runs.get()),
            ],
        ),
        (Group::Line, vec![v("table_fulls", s.table_fulls.get())]),
    ]
}

/// `ntable change`: one acked RTM_SETNEIGHTBL. Errors: `Cannot find device` (exit 1),
/// the kernel's refusal (exit 2).
fn change(sock: &mut RouteSocket, g: &Globals, a: &ChangeArgs) -> Result<(), CliError> {
    let mut parms = a.parms;
    if let Some(d) = &a.dev {
        let links = load_links(sock)?;
        parms.ifindex = Some(links.index_of(d).ok_or_else(|| CliError::nodev(d))?);
    }
    let c = NtableChange {
        family: g.family,
        name: a.name.as_bytes(),
        thresh1: a.thresh1,
        thresh2: a.thresh2,
        thresh3: a.thresh3,
        gc_interval: a.gc_interval,
        parms,
    };
    let mut buf = [0u8; 512];
    let seq = sock.next_seq();
    let n = ntable_set(&mut buf, seq, &c).map_err(|e| CliError::new(255, e.to_string()))?;
    sock.request(&buf[..n], |_| Ok(()))
        .map(|_| ())
        .map_err(|e| CliError::from_io(2, "RTNETLINK answers", &e))
}
