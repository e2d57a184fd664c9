//! One neighbor message as `ip neigh` prints it (iproute2 6.1's `print_neigh`), in text
//! or JSON, appended to an output buffer; the filter `ip` applies before printing; and
//! one entry of the shared map as `neigh map show` prints it.

use std::cell::OnceCell;
use std::net::IpAddr;

use neigh_core::map::MapEntry;
use neigh_core::wire::consts::{RTM_DELNEIGH, RTM_GETNEIGH};
use neigh_core::wire::{NeighMessage, NtfExtFlags, NtfFlags, NudState};

use crate::addr::{self, Prefix};
use crate::cli::Globals;
use crate::json::JsonWriter;
use crate::links::LinkTable;
use crate::protocols::Protocols;
use crate::resolve::Resolver;

/// The pseudo-state bit `ip` uses in its state filter for "state 0" (`nud none`).
pub const STATE_NONE_BIT: u32 = 0x100;

/// Which messages `print_neigh` lets through; the fields of iproute2's `filter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Filter {
    /// Family, 0 for any.
    pub family: u8,
    /// Interface index, 0 for any. When set, `dev NAME` is not printed.
    pub index: u32,
    /// NUD state bits to show (`0x100` stands for state 0).
    pub state: u32,
    /// `to PREFIX`.
    pub prefix: Option<Prefix>,
    /// `protocol P` (0 means any, as in ip).
    pub protocol: u8,
    /// `unused`: only entries with a zero reference count.
    pub unused_only: bool,
    /// `router` (neigh's own filter word): only entries with NTF_ROUTER.
    pub router_only: bool,
}

impl Filter {
    /// `ip`'s filter for `ip monitor` and `ip neigh get`: everything.
    pub fn all() -> Self {
        Self {
            family: 0,
            index: 0,
            state: u32::MAX,
            prefix: None,
            protocol: 0,
            unused_only: false,
            router_only: false,
        }
    }

    /// True when `m` passes, with `print_neigh`'s exact rules (proxy and extern_learn
    /// entries pass any state filter).
    pub fn accepts(&self, m: &NeighMessage<'_>) -> bool {
        if self.family != 0 && self.family != m.family {
            return false;
        }
        if self.index != 0 && self.index != m.ifindex {
            return false;
        }
        let state = u32::from(m.state.0);
        if self.state & state == 0
            && !m.flags.contains(NtfFlags::PROXY)
            && !m.flags.contains(NtfFlags::EXT_LEARNED)
            && (state != 0 || self.state & STATE_NONE_BIT == 0)
        {
            return false;
        }
        if let (Some(p), Some(dst)) = (&self.prefix, &m.dst) {
            if p.len > 0 && !p.contains(dst) {
                return false;
            }
        }
        if self.protocol != 0 && Some(self.protocol) != m.protocol {
            return false;
        }
        if self.unused_only && m.cacheinfo.is_some_and(|c| c.refcnt != 0) {
            return false;
        }
        if self.router_only && !m.flags.contains(NtfFlags::ROUTER) {
            return false;
        }
        true
    }
}

/// How to print: text or JSON, statistics, whether `dev` is shown.
pub struct Renderer<'a> {
    links: &'a LinkTable,
    /// `Some` in JSON mode.
    json: Option<JsonWriter>,
    stats: u8,
    omit_dev: bool,
    hz: u32,
    protocols: OnceCell<Protocols>,
    /// Reused for values that need escaping (interface names): no per-entry allocation.
    scratch: Vec<u8>,
    /// `-c`: the escape codes of ip's palette, `None` without colour.
    palette: Option<&'static Palette>,
    /// `-br`: address, device, MAC in columns.
    brief: bool,
    /// `-r`: host names for neighbor addresses.
    resolver: Option<Resolver>,
}

/// The escape codes iproute2 colours interface names, MACs and addresses with.
pub struct Palette {
    ifname: &'static str,
    mac: &'static str,
    inet: &'static str,
    inet6: &'static str,
}

/// Colours for a light background (iproute2's default).
const LIGHT: Palette = Palette {
    ifname: "\x1b[36m",
    mac: "\x1b[33m",
    inet: "\x1b[35m",
    inet6: "\x1b[34m",
};

/// Colours for a dark background (`COLORFGBG` ending in 0-6 or 8, as iproute2 reads it).
const DARK: Palette = Palette {
    ifname: "\x1b[1;36m",
    mac: "\x1b[1;33m",
    inet: "\x1b[1;35m",
    inet6: "\x1b[1;34m",
};

const COLOR_CLEAR: &str = "\x1b[0m";

/// iproute2's `set_color_palette`: dark when the last `;`-separated field of
/// `COLORFGBG` is one character among 0-6 and 8.
fn palette() -> &'static Palette {
    let dark = std::env::var("COLORFGBG").ok().is_some_and(|v| {
        v.rsplit_once(';')
            .is_some_and(|(_, last)| matches!(last.as_bytes(), [b'0'..=b'6' | b'8']))
    });
    if dark {
        &DARK
    } else {
        &LIGHT
    }
}

/// The escape code interface names are coloured with under `g`'s options, if any.
pub fn ifname_color(g: &Globals) -> Option<&'static str> {
    g.colored().then(|| palette().ifname)
}

/// Appends what `write` writes, wrapped in `color` and the reset code when colouring.
pub fn paint(out: &mut Vec<u8>, color: Option<&str>, write: impl FnOnce(&mut Vec<u8>)) {
    match color {
        Some(c) => {
            out.extend_from_slice(c.as_bytes());
            write(out);
            out.extend_from_slice(COLOR_CLEAR.as_bytes());
        }
        None => write(out),
    }
}

/// Pads what was written since `start` with spaces to `width` bytes (C's `%-Ns`).
fn pad_from(out: &mut Vec<u8>, start: usize, width: usize) {
    let len = out.len() - start;
    if len < width {
        out.resize(out.len() + width - len, b' ');
    }
}

impl<'a> Renderer<'a> {
    /// A renderer over `links`. `json`: JSON mode (`pretty` layout or compact); `stats`:
    /// the `-s` count; `omit_dev`: a `dev` filter is active (ip then omits `dev NAME`).
    pub fn new(links: &'a LinkTable, json: bool, pretty: bool, stats: u8, omit_dev: bool) -> Self {
        Self {
            links,
            json: json.then(|| JsonWriter::new(pretty)),
            stats,
            omit_dev,
            hz: user_hz(),
            protocols: OnceCell::new(),
            scratch: Vec::with_capacity(64),
            palette: None,
            brief: false,
            resolver: None,
        }
    }

    /// Applies the display options of `g`: colours (`-c`, never in JSON), the brief
    /// columns (`-br`), host names (`-r`), protocol numbers (`-N`).
    pub fn styled(mut self, g: &Globals) -> Self {
        self.palette = g.colored().then(palette);
        self.brief = g.brief;
        self.resolver = g.resolve.then(Resolver::default);
        if g.numeric {
            self.protocols = OnceCell::from(Protocols::numeric());
        }
        self
    }

    /// Appends a neighbor's address: its host name under `-r`.
    fn push_dst(&self, out: &mut Vec<u8>, dst: &IpAddr) {
        match &self.resolver {
            Some(r) => r.push(out, dst),
            None => addr::push_ip(out, dst),
        }
    }

    /// Opens the top-level JSON array of a listing (`[`); nothing in text mode.
    pub fn begin_list(&mut self, out: &mut Vec<u8>) {
        if let Some(j) = &mut self.json {
            j.start_array(out);
        }
    }

    /// Closes the listing (`]` and a newline); nothing in text mode.
    pub fn end_list(&mut self, out: &mut Vec<u8>) {
        if let Some(j) = &mut self.json {
            j.end_array(out);
            out.push(b'\n');
        }
    }

    /// Appends one neighbor: a text line, or a JSON object (inside a listing, or on its
    /// own line when `standalone`, as `monitor -j` prints events). No allocation.
    pub fn neigh(&mut self, out: &mut Vec<u8>, m: &NeighMessage<'_>, standalone: bool) {
        if self.brief {
            self.neigh_brief(out, m);
        } else if self.json.is_some() {
            self.neigh_json(out, m, standalone);
        } else {
            self.neigh_text(out, m);
        }
    }

    /// Appends one entry of the shared map (`neigh map show`): `ADDR dev IF [lladdr MAC]
    /// [router] STATE...` (`NONE` for state 0), or a JSON object with `ip -j neigh` keys
    /// (`dst`, `dev`, `lladdr`, `router`, `state`) plus `ifindex` and `generation`.
    pub fn map_entry(&mut self, out: &mut Vec<u8>, e: &MapEntry) {
        let n = e.entry();
        let links = self.links;
        let link_type = links.link_type(n.key.ifindex);
        let states = NudState::NAMES
            .into_iter()
            .filter(|&(bit, _)| n.state.contains(bit))
            .map(|(_, name)| name);
        let none = (n.state.0 == 0).then_some("NONE");
        let router = n.flags.contains(NtfFlags::ROUTER);
        let Some(j) = self.json.as_mut() else {
            addr::push_ip(out, &n.key.addr);
            out.extend_from_slice(b" dev ");
            links.push_name(out, n.key.ifindex);
            if let Some(mac) = &n.mac {
                out.extend_from_slice(b" lladdr ");
                addr::push_lladdr(out, mac, link_type);
            }
            if router {
                out.extend_from_slice(b" router");
            }
            for name in none.into_iter().chain(states) {
                out.push(b' ');
                out.extend_from_slice(name.as_bytes());
            }
            out.push(b'\n');
            return;
        };
        j.start_object(out);
        j.name(out, "dst");
        j.string_with(out, |o| addr::push_ip(o, &n.key.addr));
        j.name(out, "dev");
        self.scratch.clear();
        links.push_name(&mut self.scratch, n.key.ifindex);
        j.string(out, &self.scratch);
        j.name(out, "ifindex");
        j.uint(out, n.key.ifindex);
        if let Some(mac) = &n.mac {
            j.name(out, "lladdr");
            j.string_with(out, |o| addr::push_lladdr(o, mac, link_type));
        }
        if router {
            j.name(out, "router");
            j.null(out);
        }
        j.name(out, "state");
        j.start_array(out);
        for name in none.into_iter().chain(states) {
            j.string(out, name.as_bytes());
        }
        j.end_array(out);
        j.name(out, "generation");
        j.uint(out, e.generation());
        j.end_object(out);
    }

    fn protocols(&self) -> &Protocols {
        self.protocols.get_or_init(Protocols::load)
    }

    /// The colour of an address of `dst`'s family.
    fn addr_color(&self, dst: &IpAddr) -> Option<&'static str> {
        self.palette.map(|p| match dst {
            IpAddr::V4(_) => p.inet,
            IpAddr::V6(_) => p.inet6,
        })
    }

    /// `-br`: `%-39s ` address, `%-16s ` device (unless filtered), `%s` MAC; in JSON
    /// only those keys.
    fn neigh_brief(&mut self, out: &mut Vec<u8>, m: &NeighMessage<'_>) {
        let links = self.links;
        if let Some(j) = self.json.as_mut() {
            j.start_object(out);
            if let Some(dst) = &m.dst {
                j.name(out, "dst");
                let resolver = &self.resolver;
                j.string_with(out, |o| match resolver {
                    Some(r) => r.push(o, dst),
                    None => addr::push_ip(o, dst),
                });
            }
            if !self.omit_dev && m.ifindex != 0 {
                j.name(out, "dev");
                self.scratch.clear();
                links.push_name(&mut self.scratch, m.ifindex);
                j.string(out, &self.scratch);
            }
            if let Some(ll) = m.lladdr {
                j.name(out, "lladdr");
                j.string_with(out, |o| {
                    addr::push_lladdr(o, ll, links.link_type(m.ifindex))
                });
            }
            j.end_object(out);
            return;
        }
        if let Some(dst) = &m.dst {
            paint(out, self.addr_color(dst), |o| {
                let start = o.len();
                self.push_dst(o, dst);
                pad_from(o, start, 39);
                o.push(b' ');
            });
        }
        if !self.omit_dev && m.ifindex != 0 {
            paint(out, self.palette.map(|p| p.ifname), |o| {
                let start = o.len();
                links.push_name(o, m.ifindex);
                pad_from(o, start, 16);
                o.push(b' ');
            });
        }
        if let Some(ll) = m.lladdr {
            paint(out, self.palette.map(|p| p.mac), |o| {
                addr::push_lladdr(o, ll, links.link_type(m.ifindex))
            });
        }
        out.push(b'\n');
    }

    fn neigh_text(&self, out: &mut Vec<u8>, m: &NeighMessage<'_>) {
        match m.kind {
            RTM_DELNEIGH => out.extend_from_slice(b"Deleted "),
            RTM_GETNEIGH => out.extend_from_slice(b"miss "),
            _ => {}
        }
        if let Some(dst) = &m.dst {
            paint(out, self.addr_color(dst), |o| {
                self.push_dst(o, dst);
                o.push(b' ');
            });
        }
        if !self.omit_dev && m.ifindex != 0 {
            out.extend_from_slice(b"dev ");
            paint(out, self.palette.map(|p| p.ifname), |o| {
                self.links.push_name(o, m.ifindex);
                o.push(b' ');
            });
        }
        if let Some(ll) = m.lladdr {
            out.extend_from_slice(b"lladdr ");
            paint(out, self.palette.map(|p| p.mac), |o| {
                addr::push_lladdr(o, ll, self.links.link_type(m.ifindex));
                o.push(b' ');
            });
        }
        for (flag, word) in FLAG_WORDS {
            if m.flags.contains(flag) {
                out.extend_from_slice(word.as_bytes());
                out.push(b' ');
            }
        }
        if m.flags_ext
            .is_some_and(|f| f.contains(NtfExtFlags::MANAGED))
        {
            out.extend_from_slice(b"managed ");
        }
        if self.stats > 0 {
            if let Some(ci) = m.cacheinfo {
                if ci.refcnt != 0 {
                    out.extend_from_slice(b" ref ");
                    addr::push_u32(out, ci.refcnt);
                }
                out.extend_from_slice(b" used ");
                addr::push_u32(out, ci.used / self.hz);
                out.push(b'/');
                addr::push_u32(out, ci.confirmed / self.hz);
                out.push(b'/');
                addr::push_u32(out, ci.updated / self.hz);
            }
            if let Some(p) = m.probes {
                out.extend_from_slice(b"probes ");
                addr::push_u32(out, p);
                out.push(b' ');
            }
        }
        for (bit, name) in NudState::NAMES {
            if m.state.contains(bit) {
                out.extend_from_slice(name.as_bytes());
                out.push(b' ');
            }
        }
        if let Some(p) = m.protocol.filter(|&p| p != 0) {
            out.extend_from_slice(b"proto ");
            self.protocols().push_name(out, p);
            out.push(b' ');
        }
        out.push(b'\n');
    }

    fn neigh_json(&mut self, out: &mut Vec<u8>, m: &NeighMessage<'_>, standalone: bool) {
        let Self {
            links,
            json,
            stats,
            omit_dev,
            hz,
            protocols,
            scratch,
            resolver,
            ..
        } = self;
        let (links, stats, omit_dev, hz) = (*links, *stats, *omit_dev, *hz);
        let Some(j) = json.as_mut() else { return };
        if standalone {
            *j = JsonWriter::new(false);
        }
        j.start_object(out);
        match m.kind {
            RTM_DELNEIGH => {
                j.name(out, "deleted");
                j.boolean(out, true);
            }
            RTM_GETNEIGH => {
                j.name(out, "miss");
                j.null(out);
            }
            _ => {}
        }
        if let Some(dst) = &m.dst {
            j.name(out, "dst");
            j.string_with(out, |o| match resolver {
                Some(r) => r.push(o, dst),
                None => addr::push_ip(o, dst),
            });
        }
        if !omit_dev && m.ifindex != 0 {
            j.name(out, "dev");
            scratch.clear();
            links.push_name(scratch, m.ifindex);
            j.string(out, scratch);
        }
        if let Some(ll) = m.lladdr {
            j.name(out, "lladdr");
            j.string_with(out, |o| {
                addr::push_lladdr(o, ll, links.link_type(m.ifindex))
            });
        }
        for (flag, word) in FLAG_WORDS {
            if m.flags.contains(flag) {
                j.name(out, word);
                j.null(out);
            }
        }
        if m.flags_ext
            .is_some_and(|f| f.contains(NtfExtFlags::MANAGED))
        {
            j.name(out, "managed");
            j.null(out);
        }
        if stats > 0 {
            json_stats(j, out, m, hz);
        }
        if m.state.0 != 0 {
            j.name(out, "state");
            j.start_array(out);
            for (bit, name) in NudState::NAMES {
                if m.state.contains(bit) {
                    j.string(out, name.as_bytes());
                }
            }
            j.end_array(out);
        }
        if let Some(p) = m.protocol.filter(|&p| p != 0) {
            j.name(out, "protocol");
            scratch.clear();
            protocols.get_or_init(Protocols::load).push_name(scratch, p);
            j.string(out, scratch);
        }
        j.end_object(out);
        if standalone {
            out.push(b'\n');
        }
    }
}

/// The `-s` members of a neighbor's JSON object: `refcnt` (when not 0), `used`,
/// `confirmed`, `updated` (in seconds, from `NDA_CACHEINFO`'s clock ticks) and `probes`.
fn json_stats(j: &mut JsonWriter, out: &mut Vec<u8>, m: &NeighMessage<'_>, hz: u32) {
    if let Some(ci) = m.cacheinfo {
        if ci.refcnt != 0 {
            j.name(out, "refcnt");
            j.uint(out, ci.refcnt);
        }
        j.name(out, "used");
        j.uint(out, ci.used / hz);
        j.name(out, "confirmed");
        j.uint(out, ci.confirmed / hz);
        j.name(out, "updated");
        j.uint(out, ci.updated / hz);
    }
    if let Some(p) = m.probes {
        j.name(out, "probes");
        j.uint(out, p);
    }
}

/// The `ndm_flags` words in the order `ip` prints them.
const FLAG_WORDS: [(NtfFlags, &str); 4] = [
    (NtfFlags::ROUTER, "router"),
    (NtfFlags::PROXY, "proxy"),
    (NtfFlags::EXT_LEARNED, "extern_learn"),
    (NtfFlags::OFFLOADED, "offload"),
];

/// iproute2's `get_user_hz`: `$HZ` if set and non-zero, else `sysconf(_SC_CLK_TCK)`: the
/// unit of `NDA_CACHEINFO` times.
fn user_hz() -> u32 {
    if let Some(hz) = std::env::var("HZ")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|&v| v > 0)
    {
        return hz;
    }
    let hz = rustix::param::clock_ticks_per_second();
    u32::try_from(hz).ok().filter(|&v| v > 0).unwrap_or(100)
}
