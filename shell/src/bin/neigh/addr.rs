//! Addresses as `ip` reads and writes them: IPv4/IPv6 text (byte-identical to glibc's
//! `inet_ntop`), prefixes, link-layer addresses.
//!
//! Formatting appends to a byte buffer and never allocates beyond the buffer's growth.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use neigh_core::wire::consts::{AF_INET, AF_INET6, AF_UNSPEC};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `v` in decimal.
pub fn push_u32(out: &mut Vec<u8>, mut v: u32) {
    let mut tmp = [0u8; 10];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

/// Appends an IPv4 address in dotted-quad form.
pub fn push_ipv4(out: &mut Vec<u8>, a: [u8; 4]) {
    for (i, b) in a.iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        push_u32(out, u32::from(*b));
    }
}

/// Appends an IPv6 address exactly as glibc's `inet_ntop(AF_INET6)` writes it: lowercase
/// hex without leading zeros, the first longest run (>= 2) of zero words as `::`, and the
/// last 32 bits in dotted form for IPv4-compatible (`::a.b.c.d`) and mapped
/// (`::ffff:a.b.c.d`) addresses.
pub fn push_ipv6(out: &mut Vec<u8>, a: [u8; 16]) {
    let mut words = [0u16; 8];
    for (i, w) in words.iter_mut().enumerate() {
        *w = u16::from_be_bytes([a[2 * i], a[2 * i + 1]]);
    }
    let (mut best_base, mut best_len) = (usize::MAX, 0usize);
    let (mut cur_base, mut cur_len) = (usize::MAX, 0usize);
    for (i, &w) in words.iter().enumerate() {
        if w == 0 {
            if cur_base == usize::MAX {
                cur_base = i;
                cur_len = 1;
            } else {
                cur_len += 1;
            }
        } else if cur_base != usize::MAX {
            if best_base == usize::MAX || cur_len > best_len {
                best_base = cur_base;
                best_len = cur_len;
            }
            cur_base = usize::MAX;
        }
    }
    if cur_base != usize::MAX && (best_base == usize::MAX || cur_len > best_len) {
        best_base = cur_base;
        best_len = cur_len;
    }
    if best_base != usize::MAX && best_len < 2 {
        best_base = usize::MAX;
    }
    let mut i = 0;
    while i < 8 {
        if best_base != usize::MAX && i >= best_base && i < best_base + best_len {
            if i == best_base {
                out.push(b':');
            }
            i += 1;
            continue;
        }
        if i != 0 {
            out.push(b':');
        }
        if i == 6 && best_base == 0 && (best_len == 6 || (best_len == 5 && words[5] == 0xffff)) {
            push_ipv4(out, [a[12], a[13], a[14], a[15]]);
            return;
        }
        push_hex16(out, words[i]);
        i += 1;
    }
    if best_base != usize::MAX && best_base + best_len == 8 {
        out.push(b':');
    }
}

fn push_hex16(out: &mut Vec<u8>, w: u16) {
    let mut started = false;
    for shift in [12u16, 8, 4, 0] {
        let d = (w >> shift) & 0xf;
        if d != 0 || started || shift == 0 {
            started = true;
            out.push(HEX[d as usize]);
        }
    }
}

/// Appends an IP address (v4 or v6) as `inet_ntop` would.
pub fn push_ip(out: &mut Vec<u8>, ip: &IpAddr) {
    match ip {
        IpAddr::V4(v4) => push_ipv4(out, v4.octets()),
        IpAddr::V6(v6) => push_ipv6(out, v6.octets()),
    }
}

/// ARPHRD types whose link-layer "address" is an IPv4 address (iproute2's `ll_addr_n2a`).
const ARPHRD_TUNNEL: u16 = 768;
const ARPHRD_TUNNEL6: u16 = 769;
const ARPHRD_SIT: u16 = 776;
const ARPHRD_IPGRE: u16 = 778;
const ARPHRD_IP6GRE: u16 = 823;

/// Appends a link-layer address as iproute2's `ll_addr_n2a` does: colon-separated
/// lowercase hex bytes, or an IP address for IP tunnels.
pub fn push_lladdr(out: &mut Vec<u8>, ll: &[u8], link_type: u16) {
    if ll.len() == 4 && matches!(link_type, ARPHRD_TUNNEL | ARPHRD_SIT | ARPHRD_IPGRE) {
        push_ipv4(out, [ll[0], ll[1], ll[2], ll[3]]);
        return;
    }
    if ll.len() == 16 && matches!(link_type, ARPHRD_TUNNEL6 | ARPHRD_IP6GRE) {
        let mut a = [0u8; 16];
        a.copy_from_slice(ll);
        push_ipv6(out, a);
        return;
    }
    for (i, b) in ll.iter().enumerate() {
        if i > 0 {
            out.push(b':');
        }
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 0xf)]);
    }
}

/// `ip`'s name for a family in "X address is expected" errors.
pub fn family_words(family: u8) -> &'static str {
    match family {
        AF_INET => "inet",
        AF_INET6 => "inet6",
        _ => "any valid",
    }
}

/// One `strtoul(s, _, 0)` number as iproute2's IPv4 parser reads it: `0x` hex, leading-0
/// octal, else decimal. Returns the value and the rest; `None` without digits.
fn c_ulong(s: &str) -> Option<(u64, &str)> {
    let (radix, digits) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (16, h)
    } else if s.len() > 1 && s.starts_with('0') {
        (8, &s[1..])
    } else {
        (10, s)
    };
    let end = digits
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(digits.len());
    if end == 0 {
        // "0x" without hex digits is the number 0 followed by "x..."; "0" followed by a
        // non-digit is the number 0.
        return if radix == 10 {
            None
        } else {
            Some((0, &s[1..]))
        };
    }
    let v = u64::from_str_radix(&digits[..end], radix).unwrap_or(u64::MAX);
    Some((v, &digits[end..]))
}

/// iproute2's `get_addr_ipv4`: up to four parts separated by dots, each 0..=255 in C
/// notation; missing trailing parts are 0 ("10.1" is 10.1.0.0).
fn parse_ipv4_ip_style(s: &str) -> Option<Ipv4Addr> {
    let mut out = [0u8; 4];
    let mut rest = s;
    for (i, slot) in out.iter_mut().enumerate() {
        let (v, tail) = c_ulong(rest)?;
        if v > 255 {
            return None;
        }
        *slot = v as u8;
        if tail.is_empty() {
            return Some(Ipv4Addr::from(out));
        }
        if i == 3 || !tail.starts_with('.') {
            return None;
        }
        rest = &tail[1..];
    }
    None
}

/// Parses an address as `ip` does for `family` (`AF_UNSPEC` accepts both): a string with a
/// colon is IPv6 (`inet_pton`), anything else IPv4 in iproute2's notation. `None` when the
/// text is not an address of that family.
pub fn parse_addr(s: &str, family: u8) -> Option<IpAddr> {
    if s.contains(':') {
        if family == AF_INET {
            return None;
        }
        return s.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    if family == AF_INET6 {
        return None;
    }
    parse_ipv4_ip_style(s).map(IpAddr::V4)
}

/// A `to PREFIX` filter: an address and a prefix length, or "all".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prefix {
    /// `None` for `all`/`any`/`default`: matches everything of the family.
    pub addr: Option<IpAddr>,
    /// Prefix length in bits.
    pub len: u8,
}

impl Prefix {
    /// Parses `ADDR[/LEN]`, or `all`/`any`/`default`, for `family` (`AF_UNSPEC` = either).
    pub fn parse(s: &str, family: u8) -> Option<Self> {
        if matches!(s, "all" | "any" | "default") {
            return Some(Self { addr: None, len: 0 });
        }
        let (a, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr = parse_addr(a, family)?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => max,
            Some(l) => {
                let (v, rest) = c_ulong(l)?;
                if !rest.is_empty() || v > u64::from(max) {
                    return None;
                }
                v as u8
            }
        };
        Some(Self {
            addr: Some(addr),
            len,
        })
    }

    /// The address family the prefix implies (`AF_UNSPEC` for "all").
    pub fn family(&self) -> u8 {
        match self.addr {
            Some(IpAddr::V4(_)) => AF_INET,
            Some(IpAddr::V6(_)) => AF_INET6,
            None => AF_UNSPEC,
        }
    }

    /// True when `ip` is inside the prefix (a different family never matches, "all"
    /// always does).
    pub fn contains(&self, ip: &IpAddr) -> bool {
        let Some(base) = self.addr else { return true };
        match (base, ip) {
            (IpAddr::V4(b), IpAddr::V4(a)) => {
                let mask = if self.len == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(self.len))
                };
                u32::from(b) & mask == u32::from(*a) & mask
            }
            (IpAddr::V6(b), IpAddr::V6(a)) => {
                let mask = if self.len == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(self.len))
                };
                u128::from(b) & mask == u128::from(*a) & mask
            }
            _ => false,
        }
    }
}

/// Parses a link-layer address as iproute2's `ll_addr_a2n`: colon-separated hex bytes
/// (1-2 digits each, up to 32 bytes). On error returns the offending component, which
/// `ip` quotes in `"X" is invalid lladdr.`
pub fn parse_lladdr(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(6);
    for part in s.split(':') {
        let ok = !part.is_empty() && part.len() <= 2 && part.bytes().all(|b| b.is_ascii_hexdigit());
        if !ok || out.len() == 32 {
            return Err(part.to_string());
        }
        out.push(u8::from_str_radix(part, 16).map_err(|_| part.to_string())?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    extern "C" {
        fn inet_ntop(
            af: libc::c_int,
            src: *const libc::c_void,
            dst: *mut libc::c_char,
            size: libc::socklen_t,
        ) -> *const libc::c_char;
    }

    fn libc_ntop6(a: [u8; 16]) -> String {
        let mut buf = [0u8; 64];
        // SAFETY: `a` is a 16-byte in6_addr; `buf` is writable for its length.
        let p = unsafe {
            inet_ntop(
                libc::AF_INET6,
                a.as_ptr().cast(),
                buf.as_mut_ptr().cast(),
                64,
            )
        };
        assert!(!p.is_null());
        let end = buf.iter().position(|&b| b == 0).unwrap_or(0);
        String::from_utf8(buf[..end].to_vec()).unwrap()
    }

    fn ours6(a: [u8; 16]) -> String {
        let mut v = Vec::new();
        push_ipv6(&mut v, a);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn ipv6_matches_glibc_inet_ntop() {
        let mut cases: Vec<[u8; 16]> = vec![
            [0; 16],
            Ipv6Addr::LOCALHOST.octets(),
            "::ffff:1.2.3.4".parse::<Ipv6Addr>().unwrap().octets(),
            "::1.2.3.4".parse::<Ipv6Addr>().unwrap().octets(),
            "::0.0.1.2".parse::<Ipv6Addr>().unwrap().octets(),
            "1::".parse::<Ipv6Addr>().unwrap().octets(),
            "1:0:0:1:0:0:0:1".parse::<Ipv6Addr>().unwrap().octets(),
            "1:0:0:1:0:0:1:1".parse::<Ipv6Addr>().unwrap().octets(),
            "1:0:1:1:1:1:1:1".parse::<Ipv6Addr>().unwrap().octets(),
            "fe80::1".parse::<Ipv6Addr>().unwrap().octets(),
            "::ffff:0:1.2.3.4".parse::<Ipv6Addr>().unwrap().octets(),
            "0:0:0:0:0:ffff:0:0".parse::<Ipv6Addr>().unwrap().octets(),
        ];
        // Every pattern of zero/non-zero words, with varying values.
        for mask in 0u32..256 {
            let mut a = [0u8; 16];
            for w in 0..8 {
                if mask & (1 << w) != 0 {
                    let v = (0x1234u16).wrapping_mul(w as u16 + 1) | 1;
                    a[2 * w..2 * w + 2].copy_from_slice(&v.to_be_bytes());
                }
            }
            cases.push(a);
            let mut b = a;
            b[10] = 0xff;
            b[11] = 0xff;
            cases.push(b);
        }
        for a in cases {
            assert_eq!(ours6(a), libc_ntop6(a), "{a:?}");
        }
    }

    #[test]
    fn ipv4_and_numbers() {
        let mut v = Vec::new();
        push_ipv4(&mut v, [10, 0, 255, 7]);
        v.push(b' ');
        push_u32(&mut v, 0);
        v.push(b' ');
        push_u32(&mut v, u32::MAX);
        assert_eq!(v, b"10.0.255.7 0 4294967295");
    }

    #[test]
    fn lladdr_format_and_parse() {
        let mut v = Vec::new();
        push_lladdr(&mut v, &[0x02, 0, 0xab, 0xcd, 0xef, 0x01], 1);
        assert_eq!(v, b"02:00:ab:cd:ef:01");
        v.clear();
        push_lladdr(&mut v, &[10, 0, 0, 1], ARPHRD_IPGRE);
        assert_eq!(v, b"10.0.0.1");
        assert_eq!(
            parse_lladdr("02:0:ab:CD:ef:1"),
            Ok(vec![2, 0, 0xab, 0xcd, 0xef, 1])
        );
        assert_eq!(parse_lladdr("zz"), Err("zz".to_string()));
        assert_eq!(parse_lladdr("02::01"), Err(String::new()));
        assert_eq!(parse_lladdr("02:123"), Err("123".to_string()));
    }

    #[test]
    fn addresses_parse_like_ip() {
        assert_eq!(
            parse_addr("10.1.2.3", AF_UNSPEC),
            Some("10.1.2.3".parse().unwrap())
        );
        assert_eq!(
            parse_addr("1.2.3", AF_UNSPEC),
            Some("1.2.3.0".parse().unwrap())
        );
        assert_eq!(
            parse_addr("0x0a.010.0.1", AF_INET),
            Some("10.8.0.1".parse().unwrap())
        );
        assert_eq!(parse_addr("10.1.1.300", AF_UNSPEC), None);
        assert_eq!(parse_addr("bogus", AF_UNSPEC), None);
        assert_eq!(parse_addr("1.2.3.4.5", AF_UNSPEC), None);
        assert_eq!(parse_addr("2001:db8::1", AF_INET), None);
        assert_eq!(parse_addr("10.0.0.1", AF_INET6), None);
        assert_eq!(parse_addr("2001:db8::zz", AF_UNSPEC), None);
    }

    #[test]
    fn prefixes() {
        let p = Prefix::parse("10.0.0.0/30", AF_UNSPEC).unwrap();
        assert!(p.contains(&"10.0.0.3".parse().unwrap()));
        assert!(!p.contains(&"10.0.0.4".parse().unwrap()));
        assert!(!p.contains(&"::1".parse().unwrap()));
        let p = Prefix::parse("2001:db8::/32", AF_UNSPEC).unwrap();
        assert!(p.contains(&"2001:db8:1::5".parse().unwrap()));
        assert_eq!(p.family(), AF_INET6);
        assert!(Prefix::parse("10.0.0.0/33", AF_UNSPEC).is_none());
        assert!(Prefix::parse("all", AF_UNSPEC)
            .unwrap()
            .contains(&"::1".parse().unwrap()));
        let host = Prefix::parse("10.0.0.1", AF_UNSPEC).unwrap();
        assert!(host.contains(&"10.0.0.1".parse().unwrap()));
        assert!(!host.contains(&"10.0.0.2".parse().unwrap()));
    }
}
