//! The command grammar: `ip neigh`'s words, parsed the way iproute2 parses them
//! (abbreviations via `matches`, `NEXT_ARG`, `duparg`, the same error texts), plus neigh's
//! own `monitor`, illumos ndp(8)'s grammar after `ndp` (parsed in `ndp_args.rs`), and the
//! mirror's `mirror` and `map` (parsed in `mirror_args.rs`).

use std::borrow::Cow;
use std::net::IpAddr;

use neigh_core::wire::consts::AF_UNSPEC;
use neigh_core::wire::{NtfExtFlags, NtfFlags, NudState};

use neigh::mirror::MirrorConfig;

use crate::addr::{parse_addr, parse_lladdr, Prefix};
use crate::error::CliError;
pub use crate::mirror_args::{MapArgs, MapVerb};
use crate::options::{self, OptionEffect};
use crate::protocols::{parse_c_uint, Protocols};
use crate::render::STATE_NONE_BIT;

pub use crate::options::{Globals, Setup};

/// A help topic: the whole tool or one command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topic {
    All,
    Show,
    Flush,
    Get,
    Modify,
    Monitor,
    Ndp,
    Mirror,
    Map,
}

/// `show`/`flush` arguments (iproute2's `filter` as the command line sets it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListArgs {
    pub dev: Option<String>,
    /// `master DEV`, `vrf NAME` or `nomaster` (the last one given wins, as in ip).
    pub master: Option<MasterFilter>,
    /// `type TYPE` (neigh's own): only entries on interfaces of this ARPHRD type.
    pub link_type: Option<u16>,
    /// NUD state filter bits (`0x100` = state 0).
    pub state: u32,
    pub proxy: bool,
    pub prefix: Option<Prefix>,
    pub router: bool,
    pub unused: bool,
    pub protocol: u8,
    /// True when any argument was given (`ip neigh flush` refuses to run without one).
    pub any_args: bool,
}

/// Which master device the listed entries' interfaces must have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MasterFilter {
    /// `master DEV`: enslaved to DEV.
    Dev(String),
    /// `vrf NAME`: enslaved to NAME, which must be a VRF.
    Vrf(String),
    /// `nomaster`: not enslaved to anything.
    None,
}

/// `get` arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetArgs {
    pub dev: Option<String>,
    pub addr: IpAddr,
    pub proxy: bool,
}

/// Which change `add`/`replace`/`change`/`del` makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModifyKind {
    Add,
    Replace,
    Change,
    Delete,
}

/// `add`/`replace`/`change`/`del` arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModifyArgs {
    pub kind: ModifyKind,
    pub addr: IpAddr,
    pub dev: Option<String>,
    pub lladdr: Option<Vec<u8>>,
    pub state: NudState,
    pub flags: NtfFlags,
    pub flags_ext: NtfExtFlags,
    pub protocol: Option<u8>,
}

/// `monitor` arguments.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MonitorArgs {
    pub dev: Option<String>,
    /// `label`: `[NEIGH]` before each event, as `ip monitor label`.
    pub label: bool,
}

/// A parsed command line.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Show(ListArgs),
    Flush(ListArgs),
    Get(GetArgs),
    Modify(ModifyArgs),
    Monitor(MonitorArgs),
    /// `ndp ...`: illumos ndp(8) (`ndp_args.rs`).
    Ndp(crate::ndp_args::NdpArgs),
    Mirror(MirrorConfig, crate::service::ServiceOptions),
    Map(MapArgs),
    Help(Topic),
    Version,
    /// `-batch FILE` (with `-force` in [`Setup`]): the commands of FILE, one per line.
    Batch(String),
    /// `ntable ...`: the tables' parameters (`ip ntable`).
    Ntable(crate::ntable::NtableCommand),
}

/// A parsed command line.
#[derive(Clone, Debug, PartialEq)]
pub struct Invocation {
    pub g: Globals,
    pub setup: Setup,
    pub cmd: Command,
}

/// iproute2's `matches(prefix, string)`: `word` is a non-empty prefix of `full`.
pub fn matches(word: &str, full: &str) -> bool {
    !word.is_empty() && full.starts_with(word)
}

/// Cursor over the words of the command line.
struct Words<'a> {
    v: &'a [String],
    i: usize,
}

impl<'a> Words<'a> {
    fn next(&mut self) -> Option<&'a str> {
        let w = self.v.get(self.i)?;
        self.i += 1;
        Some(w.as_str())
    }

    /// `NEXT_ARG()`: the value after a keyword, or "Command line is not complete".
    fn value(&mut self) -> Result<&'a str, CliError> {
        self.next().ok_or_else(CliError::incomplete)
    }
}

/// Whether `w` looks like an option (a dash word that is not a negative number).
fn is_option(w: &str) -> bool {
    w.len() > 1 && w.starts_with('-')
}

/// Applies the option at `argv[*i]` (and its value), moving `*i` past them; returns the
/// command the option stands for itself (`-help`, `-Version`).
fn option_at(
    argv: &[String],
    i: &mut usize,
    g: &mut Globals,
    s: &mut Setup,
) -> Result<Option<Command>, CliError> {
    let word = argv[*i].as_str();
    *i += 1;
    let mut next = || {
        let v = argv.get(*i).map(String::as_str);
        if v.is_some() {
            *i += 1;
        }
        v
    };
    Ok(match options::apply(word, &mut next, g, s)? {
        OptionEffect::None => None,
        OptionEffect::Usage => Some(Command::Help(Topic::All)),
        OptionEffect::Version => Some(Command::Version),
    })
}

/// Parses the whole command line (without the program name): the options ip accepts
/// before the object, then the command. `-batch FILE` makes the rest of the line
/// irrelevant, as in ip.
///
/// Errors: the texts and exit codes `ip` uses for the same mistakes.
pub fn parse(argv: &[String]) -> Result<Invocation, CliError> {
    let mut g = Globals::default();
    let mut setup = Setup::default();
    let mut i = 0;
    while let Some(word) = argv.get(i) {
        if word == "--" {
            i += 1;
            break;
        }
        if !is_option(word) {
            break;
        }
        if let Some(cmd) = option_at(argv, &mut i, &mut g, &mut setup)? {
            return Ok(Invocation { g, setup, cmd });
        }
    }
    if let Some(file) = setup.batch.clone() {
        return Ok(Invocation {
            g,
            setup,
            cmd: Command::Batch(file),
        });
    }
    let cmd = command(&argv[i..], &mut g, &mut setup)?;
    Ok(Invocation { g, setup, cmd })
}

/// Parses one command (the words after the options, or one line of a batch after its
/// object word) with the options `g` in force; options among the words are applied to `g`
/// and `s` too (`neigh show -j`), except after `ndp` and `mirror`, whose own flags are
/// dash words, and `map`'s own long options (its `-j`, `-p` are global).
pub fn command(argv: &[String], g: &mut Globals, s: &mut Setup) -> Result<Command, CliError> {
    let own_flags = argv.first().is_some_and(|v| v == "ndp" || v == "mirror");
    let is_map = argv.first().is_some_and(|v| v == "map");
    let map_option = |w: &str| is_map && crate::mirror_args::MAP_OPTIONS.contains(&w);
    let global = |w: &str| is_option(w) && !map_option(w);
    let rest: Cow<'_, [String]> = if own_flags || !argv.iter().any(|w| global(w)) {
        Cow::Borrowed(argv)
    } else {
        let mut rest = Vec::with_capacity(argv.len());
        let mut i = 0;
        while let Some(word) = argv.get(i) {
            if global(word) {
                if let Some(cmd) = option_at(argv, &mut i, g, s)? {
                    return Ok(cmd);
                }
            } else {
                rest.push(word.clone());
                i += 1;
            }
        }
        Cow::Owned(rest)
    };
    let g = *g;
    let mut w = Words { v: &rest, i: 0 };
    let Some(verb) = w.next() else {
        return Ok(Command::Show(list_args(&mut w, &g, false)?));
    };
    // iproute2's order of checks decides what an abbreviation means.
    let cmd = if matches(verb, "add") {
        modify(&mut w, &g, ModifyKind::Add)?
    } else if matches(verb, "change") || verb == "chg" {
        modify(&mut w, &g, ModifyKind::Change)?
    } else if matches(verb, "replace") {
        modify(&mut w, &g, ModifyKind::Replace)?
    } else if matches(verb, "delete") {
        modify(&mut w, &g, ModifyKind::Delete)?
    } else if matches(verb, "get") {
        get(&mut w, &g)?
    } else if matches(verb, "show") || matches(verb, "lst") || matches(verb, "list") {
        match list_args(&mut w, &g, false) {
            Err(e) if e.code == 0 => Command::Help(Topic::Show),
            r => Command::Show(r?),
        }
    } else if matches(verb, "flush") {
        match list_args(&mut w, &g, true) {
            Err(e) if e.code == 0 => Command::Help(Topic::Flush),
            r => Command::Flush(r?),
        }
    } else if matches(verb, "help") {
        Command::Help(topic(w.next()))
    } else if matches(verb, "monitor") {
        monitor(&mut w)?
    } else if verb == "ntable" || verb == "ntbl" {
        Command::Ntable(crate::ntable::parse(&rest[1..])?)
    } else if verb == "ndp" {
        crate::ndp_args::parse(&rest[1..])?
    } else if verb == "mirror" {
        crate::mirror_args::mirror(&rest[1..], &g)?
    } else if verb == "map" {
        crate::mirror_args::map(&rest[1..])?
    } else {
        return Err(CliError::new(
            255,
            format!("Command \"{verb}\" is unknown, try \"neigh help\"."),
        ));
    };
    Ok(cmd)
}

fn topic(w: Option<&str>) -> Topic {
    match w {
        Some(v) if matches(v, "show") || matches(v, "list") || matches(v, "lst") => Topic::Show,
        Some(v) if matches(v, "flush") => Topic::Flush,
        Some(v) if matches(v, "get") => Topic::Get,
        Some(v) if matches(v, "monitor") => Topic::Monitor,
        Some("ndp") => Topic::Ndp,
        Some("mirror") => Topic::Mirror,
        Some("map") => Topic::Map,
        Some(v)
            if matches(v, "add")
                || matches(v, "change")
                || matches(v, "replace")
                || matches(v, "delete") =>
        {
            Topic::Modify
        }
        _ => Topic::All,
    }
}

/// iproute2's `nud_state_a2n`; `None` for a bad name. The value is a state bit (0 for
/// `none`).
pub fn nud_state(word: &str) -> Option<u16> {
    let s = if matches(word, "permanent") {
        NudState::PERMANENT
    } else if matches(word, "reachable") {
        NudState::REACHABLE
    } else if word == "noarp" {
        NudState::NOARP
    } else if word == "none" {
        NudState::NONE
    } else if word == "stale" {
        NudState::STALE
    } else if word == "incomplete" {
        NudState::INCOMPLETE
    } else if word == "delay" {
        NudState::DELAY
    } else if word == "probe" {
        NudState::PROBE
    } else if matches(word, "failed") {
        NudState::FAILED
    } else {
        let n = parse_c_uint(word)?;
        if n >= 0x100 || n & n.wrapping_sub(1) != 0 {
            return None;
        }
        NudState(n as u16)
    };
    Some(s.0)
}

/// `show`/`flush` arguments; an error with code 0 means "help".
fn list_args(w: &mut Words<'_>, g: &Globals, flush: bool) -> Result<ListArgs, CliError> {
    let none = u32::from(NudState::NOARP.0);
    let mut a = ListArgs {
        dev: None,
        master: None,
        link_type: None,
        state: if flush {
            !(u32::from(NudState::PERMANENT.0) | none)
        } else {
            0xff & !none
        },
        proxy: false,
        prefix: None,
        router: false,
        unused: false,
        protocol: 0,
        any_args: false,
    };
    let mut family = g.family;
    let mut state_given = false;
    let mut protocols: Option<Protocols> = None;
    while let Some(word) = w.next() {
        a.any_args = true;
        match word {
            "dev" => {
                let v = w.value()?;
                if a.dev.is_some() {
                    return Err(CliError::duparg("dev", v));
                }
                a.dev = Some(v.to_string());
            }
            "master" => a.master = Some(MasterFilter::Dev(w.value()?.to_string())),
            "vrf" => a.master = Some(MasterFilter::Vrf(w.value()?.to_string())),
            "nomaster" => a.master = Some(MasterFilter::None),
            "type" => {
                let v = w.value()?;
                a.link_type =
                    Some(link_type(v).ok_or_else(|| CliError::invarg("link type is unknown", v))?);
            }
            "unused" => a.unused = true,
            "router" => a.router = true,
            "nud" => {
                let v = w.value()?;
                if !state_given {
                    state_given = true;
                    a.state = 0;
                }
                a.state |= state_filter_bits(v, flush)?;
            }
            "proxy" => a.proxy = true,
            _ if matches(word, "protocol") => {
                let v = w.value()?;
                let table = protocols.get_or_insert_with(Protocols::load);
                a.protocol = match table.parse(v) {
                    Some(p) => p,
                    None if v == "all" => 0,
                    None => return Err(CliError::invarg("invalid \"protocol\"\n", v)),
                };
            }
            _ => {
                let v = if word == "to" { w.value()? } else { word };
                if matches(v, "help") {
                    return Err(CliError::new(0, ""));
                }
                let p = Prefix::parse(v, family).ok_or_else(|| CliError::bad_prefix(family, v))?;
                if family == AF_UNSPEC {
                    family = p.family();
                }
                a.prefix = Some(p);
            }
        }
    }
    Ok(a)
}

/// iproute2's names of `ARPHRD_*` link types (the common ones), or a number.
fn link_type(word: &str) -> Option<u16> {
    const TYPES: [(&str, u16); 14] = [
        ("ether", 1),
        ("ieee802", 6),
        ("infiniband", 32),
        ("can", 280),
        ("ppp", 512),
        ("ipip", 768),
        ("tunnel6", 769),
        ("loopback", 772),
        ("sit", 776),
        ("gre", 778),
        ("ip6gre", 823),
        ("rawip", 519),
        ("none", 65534),
        ("void", 65535),
    ];
    TYPES
        .iter()
        .find(|(name, _)| *name == word)
        .map(|&(_, t)| t)
        .or_else(|| parse_c_uint(word).and_then(|n| u16::try_from(n).ok()))
}

/// The state filter bits of `nud WORD` in `show`/`flush`: the state's bit,
/// [`STATE_NONE_BIT`] for `none`, and for `all` every state (but NOARP for `flush`).
fn state_filter_bits(word: &str, flush: bool) -> Result<u32, CliError> {
    match nud_state(word) {
        Some(0) => Ok(STATE_NONE_BIT),
        Some(s) => Ok(u32::from(s)),
        None if word == "all" && flush => Ok(!u32::from(NudState::NOARP.0)),
        None if word == "all" => Ok(u32::MAX),
        None => Err(CliError::invarg("nud state is bad", word)),
    }
}

fn address(v: &str, family: u8) -> Result<IpAddr, CliError> {
    parse_addr(v, family).ok_or_else(|| CliError::bad_addr(family, v))
}

fn get(w: &mut Words<'_>, g: &Globals) -> Result<Command, CliError> {
    let (mut dev, mut addr, mut proxy, mut dev_ok) = (None, None, false, false);
    while let Some(word) = w.next() {
        if word == "dev" {
            dev = Some(w.value()?.to_string());
            dev_ok = true;
        } else if matches(word, "proxy") {
            let v = w.value()?;
            if matches(v, "help") {
                return Ok(Command::Help(Topic::Get));
            }
            if addr.is_some() {
                return Err(CliError::duparg("address", v));
            }
            addr = Some(address(v, g.family)?);
            dev_ok = true;
            proxy = true;
        } else {
            let v = if word == "to" { w.value()? } else { word };
            if matches(v, "help") {
                return Ok(Command::Help(Topic::Get));
            }
            if addr.is_some() {
                return Err(CliError::duparg2("to", v));
            }
            addr = Some(address(v, g.family)?);
        }
    }
    match (addr, dev_ok) {
        (Some(addr), true) => Ok(Command::Get(GetArgs { dev, addr, proxy })),
        _ => Err(CliError::new(1, "Device and address are required arguments.").recoverable()),
    }
}

fn modify(w: &mut Words<'_>, g: &Globals, kind: ModifyKind) -> Result<Command, CliError> {
    let mut lladdr: Option<&str> = None;
    let mut addr = None;
    let mut dev = None;
    let mut dev_ok = false;
    let mut state = NudState::PERMANENT;
    let mut flags = NtfFlags::NONE;
    let mut flags_ext = NtfExtFlags::NONE;
    let mut protocol = None;
    let mut protocols: Option<Protocols> = None;
    while let Some(word) = w.next() {
        if matches(word, "lladdr") {
            let v = w.value()?;
            if lladdr.is_some() {
                return Err(CliError::duparg("lladdr", v));
            }
            lladdr = Some(v);
        } else if word == "nud" {
            let v = w.value()?;
            state = NudState(nud_state(v).ok_or_else(|| CliError::invarg("nud state is bad", v))?);
        } else if matches(word, "proxy") {
            let v = w.value()?;
            if matches(v, "help") {
                return Ok(Command::Help(Topic::Modify));
            }
            if addr.is_some() {
                return Err(CliError::duparg("address", v));
            }
            addr = Some(address(v, g.family)?);
            dev_ok = true;
            flags = flags | NtfFlags::PROXY;
        } else if let Some((f, fx)) = flag_word(word) {
            flags = flags | f;
            flags_ext = flags_ext | fx;
            // As ip: a managed entry has no state of its own (a later `nud` still wins).
            if fx.contains(NtfExtFlags::MANAGED) {
                state = NudState::NONE;
            }
        } else if word == "dev" {
            dev = Some(w.value()?.to_string());
            dev_ok = true;
        } else if matches(word, "protocol") {
            let v = w.value()?;
            let table = protocols.get_or_insert_with(Protocols::load);
            let p = table.parse(v);
            protocol =
                Some(p.ok_or_else(|| CliError::invarg("\"protocol\" value is invalid\n", v))?);
        } else {
            let mut v = if word == "to" { w.value()? } else { word };
            if matches(v, "help") {
                // ip skips a "help" word here (NEXT_ARG) rather than printing usage.
                if w.v.get(w.i).is_none() {
                    return Ok(Command::Help(Topic::Modify));
                }
                v = w.value()?;
            }
            if addr.is_some() {
                return Err(CliError::duparg2("to", v));
            }
            addr = Some(address(v, g.family)?);
        }
    }
    let (Some(addr), true) = (addr, dev_ok) else {
        return Err(CliError::new(
            255,
            "Device and destination are required arguments.",
        ));
    };
    Ok(Command::Modify(ModifyArgs {
        kind,
        addr,
        dev,
        lladdr: lladdr_arg(lladdr)?,
        state,
        flags,
        flags_ext,
        protocol,
    }))
}

/// The flags a bare word of `add`/`change`/`replace` sets (`router`, `extern_learn`, `use`,
/// `managed`), or `None` for another word.
fn flag_word(word: &str) -> Option<(NtfFlags, NtfExtFlags)> {
    Some(match word {
        "router" => (NtfFlags::ROUTER, NtfExtFlags::NONE),
        _ if matches(word, "extern_learn") => (NtfFlags::EXT_LEARNED, NtfExtFlags::NONE),
        "use" => (NtfFlags::USE, NtfExtFlags::NONE),
        "managed" => (NtfFlags::NONE, NtfExtFlags::MANAGED),
        _ => return None,
    })
}

/// The value of `lladdr`: `None` when absent or `null`. Errors: iproute2's "is invalid
/// lladdr" naming the bad part.
fn lladdr_arg(lladdr: Option<&str>) -> Result<Option<Vec<u8>>, CliError> {
    match lladdr {
        Some("null") | None => Ok(None),
        Some(l) => parse_lladdr(l).map(Some).map_err(|part| {
            CliError::new(1, format!("\"{part}\" is invalid lladdr.")).recoverable()
        }),
    }
}

fn monitor(w: &mut Words<'_>) -> Result<Command, CliError> {
    let mut a = MonitorArgs::default();
    while let Some(word) = w.next() {
        match word {
            "dev" => a.dev = Some(w.value()?.to_string()),
            // `neigh monitor neigh` reads like `ip monitor neigh`.
            "neigh" | "all" => {}
            "label" => a.label = true,
            _ if matches(word, "help") => return Ok(Command::Help(Topic::Monitor)),
            _ => {
                return Err(CliError::new(
                    255,
                    format!("Argument \"{word}\" is unknown, try \"neigh monitor help\"."),
                ))
            }
        }
    }
    Ok(Command::Monitor(a))
}

#[cfg(test)]
mod tests {
    use super::*;
    use neigh_core::wire::consts::AF_INET;

    fn p(s: &str) -> Result<(Globals, Command), CliError> {
        let v: Vec<String> = s.split_whitespace().map(String::from).collect();
        parse(&v).map(|i| (i.g, i.cmd))
    }

    #[test]
    fn empty_is_show_all() {
        let (g, c) = p("").unwrap();
        assert_eq!(g, Globals::default());
        let Command::Show(a) = c else { panic!("{c:?}") };
        assert_eq!(a.state, 0xff & !0x40);
        assert!(!a.any_args);
    }

    #[test]
    fn show_filters_and_options_anywhere() {
        let (g, c) =
            p("-4 show dev eth0 nud stale nud reachable to 10.0.0.0/8 -j -p -s -s").unwrap();
        assert_eq!(
            g,
            Globals {
                family: AF_INET,
                stats: 2,
                json: true,
                pretty: true,
                ..Globals::default()
            }
        );
        let Command::Show(a) = c else { panic!() };
        assert_eq!(a.dev.as_deref(), Some("eth0"));
        assert_eq!(a.state, 0x04 | 0x02);
        assert_eq!(a.prefix.unwrap().len, 8);
        let (_, c) = p("l nud all proxy router").unwrap();
        let Command::Show(a) = c else { panic!() };
        assert_eq!(a.state, u32::MAX);
        assert!(a.proxy && a.router);
        let (_, c) = p("show nud none").unwrap();
        let Command::Show(a) = c else { panic!() };
        assert_eq!(a.state, STATE_NONE_BIT);
    }

    #[test]
    fn flush_defaults_skip_permanent_and_noarp() {
        let (_, c) = p("flush dev eth0").unwrap();
        let Command::Flush(a) = c else { panic!() };
        assert_eq!(a.state & 0xc0, 0);
        assert_ne!(a.state & 0x04, 0);
        let (_, c) = p("flush nud all").unwrap();
        let Command::Flush(a) = c else { panic!() };
        assert_eq!(a.state & 0x40, 0);
        assert_ne!(a.state & 0x80, 0);
    }

    #[test]
    fn modify_words() {
        let (_, c) =
            p("replace 10.0.0.2 lladdr 02:00:00:00:00:01 dev eth0 nud reachable router extern_learn managed protocol static").unwrap();
        let Command::Modify(m) = c else { panic!() };
        assert_eq!(m.kind, ModifyKind::Replace);
        assert_eq!(m.lladdr.as_deref(), Some(&[2, 0, 0, 0, 0, 1][..]));
        // `managed` after `nud` wins, as in ip: no state.
        assert_eq!(m.state, NudState::NONE);
        assert_eq!(m.flags, NtfFlags::ROUTER | NtfFlags::EXT_LEARNED);
        assert_eq!(m.flags_ext, NtfExtFlags::MANAGED);
        assert_eq!(m.protocol, Some(4));
        let (_, c) = p("del 2001:db8::1 dev eth0").unwrap();
        let Command::Modify(m) = c else { panic!() };
        assert_eq!(m.kind, ModifyKind::Delete);
        let (_, c) = p("a proxy 10.0.0.9 dev eth0").unwrap();
        let Command::Modify(m) = c else { panic!() };
        assert_eq!((m.kind, m.flags), (ModifyKind::Add, NtfFlags::PROXY));
    }

    #[test]
    fn errors_like_ip() {
        let e = p("show nud bogus").unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (255, "Error: argument \"bogus\" is wrong: nud state is bad")
        );
        let e = p("show dev").unwrap_err();
        assert_eq!(e.code, 255);
        assert_eq!(
            e.message,
            "Command line is not complete. Try option \"help\""
        );
        let e = p("add 10.1.1.1 lladdr zz dev eth0").unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (1, "\"zz\" is invalid lladdr.")
        );
        let e = p("add 10.1.1.1 lladdr 02:00:00:00:00:01").unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (255, "Device and destination are required arguments.")
        );
        let e = p("add bogus dev eth0").unwrap_err();
        assert_eq!(
            e.message,
            "Error: any valid address is expected rather than \"bogus\"."
        );
        let e = p("-4 add 2001:db8::5 dev eth0").unwrap_err();
        assert_eq!(
            e.message,
            "Error: inet address is expected rather than \"2001:db8::5\"."
        );
        let e = p("show 10.0.0.0/33").unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                1,
                "Error: any valid prefix is expected rather than \"10.0.0.0/33\"."
            )
        );
        let e = p("get 10.0.0.1").unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (1, "Device and address are required arguments.")
        );
        let e = p("bogus").unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (255, "Command \"bogus\" is unknown, try \"neigh help\".")
        );
        let e = p("show dev a dev b").unwrap_err();
        assert_eq!(
            e.message,
            "Error: duplicate \"dev\": \"b\" is the second value."
        );
        let e = p("-x show").unwrap_err();
        assert_eq!(e.code, 255);
    }

    #[test]
    fn help_forms() {
        assert_eq!(p("help").unwrap().1, Command::Help(Topic::All));
        assert_eq!(p("show help").unwrap().1, Command::Help(Topic::Show));
        assert_eq!(p("get help").unwrap().1, Command::Help(Topic::Get));
        assert_eq!(p("help flush").unwrap().1, Command::Help(Topic::Flush));
        assert_eq!(p("ndp help").unwrap().1, Command::Help(Topic::Ndp));
        assert_eq!(p("monitor help").unwrap().1, Command::Help(Topic::Monitor));
        assert_eq!(p("-he").unwrap().1, Command::Help(Topic::All));
        // As in ip, -h is -human (accepted, changes nothing).
        assert!(matches!(p("-h").unwrap().1, Command::Show(_)));
    }

    #[test]
    fn ndp_words_are_ndps() {
        let (_, c) = p("ndp -n -a").unwrap();
        assert!(matches!(c, Command::Ndp(a) if a.numeric));
        // ndp's own -n and -a, not ip's -netns and -all.
        let (g, _) = p("ndp -a -n").unwrap();
        assert_eq!(g, Globals::default());
    }
}
