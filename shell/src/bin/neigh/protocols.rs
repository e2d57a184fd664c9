//! Routing protocol names (`NDA_PROTOCOL`), as iproute2's `rtnl_rtprot_n2a/a2n` know them:
//! the built-in table, overridden by `/etc/iproute2/rt_protos` and `rt_protos.d/*.conf`.

use std::fs;
use std::path::Path;

/// iproute2's compiled-in names.
const BUILTIN: &[(u8, &str)] = &[
    (0, "unspec"),
    (1, "redirect"),
    (2, "kernel"),
    (3, "boot"),
    (4, "static"),
    (8, "gated"),
    (9, "ra"),
    (10, "mrt"),
    (11, "zebra"),
    (12, "bird"),
    (13, "dnrouted"),
    (14, "xorp"),
    (15, "ntk"),
    (16, "dhcp"),
    (18, "keepalived"),
    (42, "babel"),
    (99, "openr"),
    (186, "bgp"),
    (187, "isis"),
    (188, "ospf"),
    (189, "rip"),
    (192, "eigrp"),
];

const CONFDIR: &str = "/etc/iproute2";

/// Number-to-name table for the 256 protocol values. Loaded once per command, only when a
/// protocol is printed or parsed.
#[derive(Clone, Debug)]
pub struct Protocols {
    names: Vec<Option<String>>,
}

impl Protocols {
    /// A table without names: every protocol prints as its number (`-N`).
    pub fn numeric() -> Self {
        Self {
            names: vec![None; 256],
        }
    }

    /// The built-in names plus the system's configuration files (missing files are fine).
    pub fn load() -> Self {
        let mut names: Vec<Option<String>> = vec![None; 256];
        for &(n, s) in BUILTIN {
            names[usize::from(n)] = Some(s.to_string());
        }
        let mut t = Self { names };
        t.read_file(&Path::new(CONFDIR).join("rt_protos"));
        if let Ok(dir) = fs::read_dir(Path::new(CONFDIR).join("rt_protos.d")) {
            let mut files: Vec<_> = dir
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "conf"))
                .collect();
            files.sort();
            for f in files {
                t.read_file(&f);
            }
        }
        t
    }

    fn read_file(&mut self, path: &Path) {
        let Ok(text) = fs::read_to_string(path) else {
            return;
        };
        for line in text.lines() {
            let line = line.trim_start();
            if line.starts_with('#') {
                continue;
            }
            let mut it = line.split_whitespace();
            let (Some(num), Some(name)) = (it.next(), it.next()) else {
                continue;
            };
            if let Some(n) = parse_c_uint(num).filter(|&n| n < 256) {
                self.names[n as usize] = Some(name.to_string());
            }
        }
    }

    /// Appends the name of protocol `p`, or its number.
    pub fn push_name(&self, out: &mut Vec<u8>, p: u8) {
        match &self.names[usize::from(p)] {
            Some(n) => out.extend_from_slice(n.as_bytes()),
            None => crate::addr::push_u32(out, u32::from(p)),
        }
    }

    /// Looks a protocol up by name or number (0..=255) as `ip ... protocol P` accepts it.
    pub fn parse(&self, s: &str) -> Option<u8> {
        if let Some(i) = self.names.iter().position(|n| n.as_deref() == Some(s)) {
            return u8::try_from(i).ok();
        }
        parse_c_uint(s).and_then(|n| u8::try_from(n).ok())
    }
}

/// `strtoul(s, &end, 0)` with the whole string consumed: decimal, `0x` hex, `0` octal.
pub fn parse_c_uint(s: &str) -> Option<u32> {
    let (radix, digits) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (16, h)
    } else if s.len() > 1 && s.starts_with('0') {
        (8, &s[1..])
    } else {
        (10, s)
    };
    if digits.is_empty() {
        return None;
    }
    u32::from_str_radix(digits, radix).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        let p = Protocols::load();
        let mut out = Vec::new();
        p.push_name(&mut out, 4);
        out.push(b' ');
        p.push_name(&mut out, 250);
        assert!(out.starts_with(b"static "));
        assert_eq!(p.parse("static"), Some(4));
        assert_eq!(p.parse("0x10"), Some(16));
        assert_eq!(p.parse("300"), None);
        assert_eq!(p.parse("bogus"), None);
        assert_eq!(parse_c_uint("010"), Some(8));
    }
}
