//! The global options: every option `ip` 6.1 accepts before its object, matched in ip's
//! order (so an abbreviation means what it means to ip: `-b` is `-batch`, `-h` is
//! `-human`, `-f` is `-family`, `-n` is `-netns`), with ip's error texts. Options that
//! change nothing in `ip neigh`'s output (`-d`, `-h`, `-iec`, `-a`, `-l N`, ...) are
//! accepted and change nothing here either.

use neigh_core::wire::consts::{AF_INET, AF_INET6};

use crate::cli::matches;
use crate::error::CliError;

/// `AF_PACKET` (`-0`, `-f link`).
pub const AF_PACKET: u8 = 17;
/// `AF_MPLS` (`-M`, `-f mpls`).
pub const AF_MPLS: u8 = 28;
/// `AF_BRIDGE` (`-B`, `-f bridge`).
pub const AF_BRIDGE: u8 = 7;

/// `-c`/`-color[=always|auto|never]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColorOpt {
    /// Not given: no colour.
    #[default]
    Unset,
    Always,
    /// Colour when stdout is a terminal.
    Auto,
    Never,
}

/// Options that shape what commands print, shared by every command of a run (and every
/// line of a batch).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Globals {
    /// `AF_UNSPEC`, `AF_INET` (`-4`), `AF_INET6` (`-6`), or another `-f` family.
    pub family: u8,
    /// How many times `-s` was given.
    pub stats: u8,
    /// `-j`
    pub json: bool,
    /// `-p` (only meaningful with `-j`).
    pub pretty: bool,
    /// `-br`: one short line per entry (address, device, MAC).
    pub brief: bool,
    /// `-c`
    pub color: ColorOpt,
    /// `-r`: print names (reverse DNS) instead of addresses.
    pub resolve: bool,
    /// `-t` (1) or `-ts` (2): timestamps on `monitor` events.
    pub timestamp: u8,
    /// `-N`: protocol numbers instead of names.
    pub numeric: bool,
    /// `-o`: ip's one-line output (`ntable show` ends its lines with `\`).
    pub oneline: bool,
}

impl Globals {
    /// Whether output is coloured, as iproute2's `check_enable_color` decides: never with
    /// `-j`, always with `-c`/`-color=always`, with `-color=auto` when stdout is a
    /// terminal.
    pub fn colored(&self) -> bool {
        match self.color {
            _ if self.json => false,
            ColorOpt::Always => true,
            // SAFETY: isatty has no preconditions; fd 1 may be closed (then it says no).
            ColorOpt::Auto => unsafe { libc::isatty(1) == 1 },
            ColorOpt::Unset | ColorOpt::Never => false,
        }
    }
}

/// Options that decide how and where the run happens rather than what it prints.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Setup {
    /// `-n NS` / `-netns NS`: enter `/run/netns/NS` before anything else.
    pub netns: Option<String>,
    /// `-b FILE` / `-batch FILE` (`-` is stdin).
    pub batch: Option<String>,
    /// `-force`: a batch goes on after a failed command.
    pub force: bool,
    /// `-rc SIZE` / `-rcvbuf SIZE`: the netlink receive buffer.
    pub rcvbuf: Option<u32>,
}

/// What one option word asks for beyond setting a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionEffect {
    /// Nothing more: parsing goes on.
    None,
    /// `-help` (and `-family help`): ip's usage, exit 255.
    Usage,
    /// `-Version`.
    Version,
}

/// Applies the option `word` (with a leading `-` or `--`) to `g` and `s`, taking its value
/// from `next` when it has one (`-n NS`, `-f FAMILY`, `-b FILE`, `-l N`, `-rc SIZE`); a
/// missing value is [`OptionEffect::Usage`], as in ip.
///
/// Errors, as ip words them: an unknown option (`Option "-x" is unknown, try "neigh
/// -help".`, 255), `-n` without a name (`Command line is not complete...`, 255), a bad family
/// (`Error: argument "X" is wrong: invalid protocol family`, 255), a bad rcvbuf size.
pub fn apply<'a>(
    word: &str,
    next: &mut dyn FnMut() -> Option<&'a str>,
    g: &mut Globals,
    s: &mut Setup,
) -> Result<OptionEffect, CliError> {
    // ip strips one extra dash: `--json` is `-json`.
    let opt = word.strip_prefix('-').unwrap_or(word);
    let o = match opt.strip_prefix('-') {
        Some(rest) => format!("-{rest}"),
        None => format!("-{opt}"),
    };
    let o = o.as_str();
    // A missing value is ip's usage, except after -netns (NEXT_ARG).
    macro_rules! value {
        () => {
            match next() {
                Some(v) => v,
                None => return Ok(OptionEffect::Usage),
            }
        };
    }
    match () {
        _ if matches(o, "-loops") => {
            value!();
        }
        _ if matches(o, "-family") => {
            let v = value!();
            if v == "help" {
                return Ok(OptionEffect::Usage);
            }
            g.family = match v {
                "inet" => AF_INET,
                "inet6" => AF_INET6,
                "link" => AF_PACKET,
                "mpls" => AF_MPLS,
                "bridge" => AF_BRIDGE,
                _ => return Err(CliError::invarg("invalid protocol family", v)),
            };
        }
        _ if o == "-4" => g.family = AF_INET,
        _ if o == "-6" => g.family = AF_INET6,
        _ if o == "-0" => g.family = AF_PACKET,
        _ if o == "-M" => g.family = AF_MPLS,
        _ if o == "-B" => g.family = AF_BRIDGE,
        _ if matches(o, "-human") || matches(o, "-human-readable") => {}
        _ if matches(o, "-iec") => {}
        _ if matches(o, "-stats") || matches(o, "-statistics") => {
            g.stats = g.stats.saturating_add(1)
        }
        _ if matches(o, "-details") => {}
        _ if matches(o, "-resolve") => g.resolve = true,
        _ if matches(o, "-oneline") => g.oneline = true,
        _ if matches(o, "-timestamp") => g.timestamp = g.timestamp.max(1),
        _ if matches(o, "-tshort") => g.timestamp = 2,
        _ if matches(o, "-Version") => return Ok(OptionEffect::Version),
        _ if matches(o, "-force") => s.force = true,
        _ if matches(o, "-batch") => s.batch = Some(value!().to_owned()),
        _ if matches(o, "-brief") => g.brief = true,
        _ if matches(o, "-json") => g.json = true,
        _ if matches(o, "-pretty") => g.pretty = true,
        _ if matches(o, "-rcvbuf") => {
            let v = value!();
            let size = crate::protocols::parse_c_uint(v)
                .ok_or_else(|| CliError::new(255, format!("Invalid rcvbuf size '{v}'")))?;
            s.rcvbuf = Some(size);
        }
        _ if color(o).is_some() => g.color = color(o).unwrap_or_default(),
        _ if matches(o, "-help") => return Ok(OptionEffect::Usage),
        _ if matches(o, "-netns") => {
            s.netns = Some(next().ok_or_else(CliError::incomplete)?.to_owned())
        }
        _ if matches(o, "-Numeric") => g.numeric = true,
        _ if matches(o, "-all") => {}
        _ if o == "-echo" => {}
        _ => {
            return Err(CliError::new(
                255,
                format!("Option \"{o}\" is unknown, try \"neigh -help\"."),
            ))
        }
    }
    Ok(OptionEffect::None)
}

/// iproute2's `matches_color`: `-c[olor]` with an optional `=always|auto|never`.
fn color(o: &str) -> Option<ColorOpt> {
    let (name, value) = match o.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (o, None),
    };
    if !matches(name, "-color") {
        return None;
    }
    match value {
        None | Some("") | Some("always") => Some(ColorOpt::Always),
        Some("auto") => Some(ColorOpt::Auto),
        Some("never") => Some(ColorOpt::Never),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(words: &[&str]) -> Result<(Globals, Setup, OptionEffect), CliError> {
        let (mut g, mut s) = (Globals::default(), Setup::default());
        let mut rest = words[1..].iter().copied();
        let e = apply(words[0], &mut || rest.next(), &mut g, &mut s)?;
        Ok((g, s, e))
    }

    #[test]
    fn abbreviations_mean_what_they_mean_to_ip() {
        assert_eq!(one(&["-b", "f"]).unwrap().1.batch.as_deref(), Some("f"));
        assert!(one(&["-br"]).unwrap().0.brief);
        assert_eq!(one(&["-f", "inet6"]).unwrap().0.family, AF_INET6);
        assert!(one(&["-fo"]).unwrap().1.force);
        assert_eq!(one(&["-n", "x"]).unwrap().1.netns.as_deref(), Some("x"));
        assert!(one(&["-N"]).unwrap().0.numeric);
        assert_eq!(one(&["-h"]).unwrap().2, OptionEffect::None);
        assert_eq!(one(&["-he"]).unwrap().2, OptionEffect::Usage);
        assert!(one(&["--json"]).unwrap().0.json);
        assert_eq!(one(&["-ts"]).unwrap().0.timestamp, 2);
        assert_eq!(one(&["-0"]).unwrap().0.family, AF_PACKET);
        assert_eq!(one(&["-c"]).unwrap().0.color, ColorOpt::Always);
        assert_eq!(one(&["-color=auto"]).unwrap().0.color, ColorOpt::Auto);
        assert_eq!(one(&["-rc", "4096"]).unwrap().1.rcvbuf, Some(4096));
    }

    #[test]
    fn errors_as_ip_words_them() {
        let e = one(&["-c=bogus"]).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (255, "Option \"-c=bogus\" is unknown, try \"neigh -help\".")
        );
        let e = one(&["-f", "bogus"]).unwrap_err();
        assert_eq!(
            e.message,
            "Error: argument \"bogus\" is wrong: invalid protocol family"
        );
        assert_eq!(one(&["-n"]).unwrap_err().code, 255);
        assert_eq!(
            one(&["-rc", "x"]).unwrap_err().message,
            "Invalid rcvbuf size 'x'"
        );
        assert!(one(&["-D"]).is_err());
        assert!(one(&["-e"]).is_err());
    }
}
