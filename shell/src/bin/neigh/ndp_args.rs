//! The command line of `neigh ndp`: illumos ndp(8)'s grammar, read as its `main` reads it
//! (`getopt(argc, argv, ":naA:d:f:i:s:")`, POSIX rules: options first, bundling such as
//! `-na` or `-ieth0`, `--` ends them), with ndp's usage errors (`ndp: REASON`, the usage,
//! exit 1). Source: illumos-gate `usr/src/cmd/cmd-inet/usr.sbin/ndp.c` (`main`,
//! `ndp_badflag`, `ndp_missingarg`, `ndp_usage`).
//!
//! neigh also reads its own words, which ndp(8) would take as host names or refuse: a
//! first word `show`/`list` (`-a`), `get` (dropped), `set` (`-s`), `delete`/`del`
//! (`-d`), `dev IF` (`-i IF`), and `-i IF` or `dev IF` among `-s`'s option words or as
//! the last two words. `neigh ndp help` is the help.

use crate::cli::{Command, Topic};
use crate::error::CliError;

/// What `neigh ndp` does (ndp.c's `enum ndp_action`, with its operands).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NdpAction {
    /// `HOST`: print each of HOST's addresses' entries.
    Get { host: String },
    /// `-a`: the table, as illumos `netstat -p -f inet6` prints it.
    Table,
    /// `-A PERIOD`: the table every `period` seconds (0: once, then wait).
    Repeat { period: u64 },
    /// `-d HOST`: delete each of HOST's addresses' entries.
    Delete { host: String },
    /// `-s HOST LLADDR [OPT]...`: set each of HOST's addresses' entries.
    Set {
        host: String,
        lladdr: String,
        opts: Vec<String>,
    },
    /// `-f FILE`: `-s` for each line of FILE.
    File { path: String },
}

/// A parsed `neigh ndp` command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NdpArgs {
    /// `-n`: print addresses, not host names.
    pub numeric: bool,
    /// `-i IF`: the interface to act on (else the zone's, else the route's).
    pub iface: Option<String>,
    pub action: NdpAction,
}

const USAGE: &str = "\
Usage: neigh ndp [-n] [-i iface] hostname
       neigh ndp [-n] [-i iface] -s nodeaddr etheraddr [temp] [any] [router]
       neigh ndp [-n] [-i iface] -d nodeaddr
       neigh ndp [-n] [-i iface] -f filename
       neigh ndp [-n] -a
       neigh ndp [-n] -A period";

/// ndp's `ndp_usage(reason)`: `ndp: REASON`, the usage, exit 1.
fn usage(reason: &str) -> CliError {
    CliError::new(1, format!("ndp: {reason}\n{USAGE}"))
}

/// `ndp_badflag`: a second action flag is refused, naming the first.
fn no_action_yet(current: &Option<NdpAction>, flag: char) -> Result<(), CliError> {
    let Some(old) = current else {
        return Ok(());
    };
    let what = match old {
        NdpAction::Get { .. } => "Already going to print an entry",
        NdpAction::Table => "Already going to print all entries (-a)",
        NdpAction::Repeat { .. } => "Already going to repeatedly print all entries (-A)",
        NdpAction::Delete { .. } => "Already going to delete an entry (-d)",
        NdpAction::Set { .. } => "Already going to set an entry (-s)",
        NdpAction::File { .. } => "Already going to set from file (-f)",
    };
    Err(usage(&format!("{what}, but extra -{flag} given")))
}

/// `ndp_missingarg(flag)`.
fn missing(flag: char) -> CliError {
    usage(&match flag {
        'A' => format!("Missing time period after -{flag}"),
        'd' | 's' => format!("Missing node name after -{flag}"),
        'f' => format!("Missing filename after -{flag}"),
        'i' => format!("Missing interface name after -{flag}"),
        _ => format!("Missing option argument after -{flag}"),
    })
}

/// ndp's check of `-A PERIOD` (`strtoll(.., 10)`: leading blanks and a sign allowed,
/// nothing after the digits, not negative, at most a day).
fn period(arg: &str) -> Result<u64, CliError> {
    let bad = || {
        usage(&format!(
            "Given period should be a positive integer, not \"{arg}\""
        ))
    };
    let t = arg.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let value = if t.is_empty() {
        0 // strtoll("") is 0 with nothing left over: ndp accepts it.
    } else if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    } else {
        digits.parse::<u64>().unwrap_or(u64::MAX)
    };
    if neg && value != 0 {
        return Err(bad());
    }
    if value > 86400 {
        return Err(usage(&format!(
            "Given period should be shorter than a day; given \"{arg}\" seconds"
        )));
    }
    Ok(value)
}

/// Rewrites neigh's own words into ndp's flags (see the module doc).
fn legacy(argv: &[String]) -> Vec<String> {
    let mut v: Vec<String> = argv.to_vec();
    let verb = match v.first().map(String::as_str) {
        Some("show" | "list") => Some("-a"),
        Some("get") => Some(""),
        Some("set") => Some("-s"),
        Some("delete" | "del") => Some("-d"),
        _ => None,
    };
    let from = if let Some(flag) = verb {
        if flag.is_empty() {
            v.remove(0);
        } else {
            v[0] = flag.to_string();
        }
        // `dev IF` anywhere on such a line.
        1
    } else {
        // `-i IF` / `dev IF` among `-s`'s option words, or as the last two words: ndp
        // refuses both (`Encountered "-i" after flag parsing is done`, extra arguments).
        match v.iter().position(|w| w == "-s") {
            Some(k) => k + 3,
            None => v.len().saturating_sub(2).max(1),
        }
    };
    hoist_interface(&mut v, from);
    v
}

/// Moves each `-i IF` or `dev IF` at or after `from` to the front as `-i IF`.
fn hoist_interface(v: &mut Vec<String>, from: usize) {
    let mut i = from;
    while i + 1 < v.len() {
        if v[i] == "-i" || v[i] == "dev" {
            let dev = v.remove(i + 1);
            v.remove(i);
            v.splice(0..0, ["-i".to_string(), dev]);
            i += 2;
        } else {
            i += 1;
        }
    }
}

/// getopt's walk over the words, and what the flags have set so far.
struct Getopt {
    argv: Vec<String>,
    /// The next word to read (getopt's `optind`).
    next: usize,
    numeric: bool,
    iface: Option<String>,
    action: Option<NdpAction>,
}

impl Getopt {
    /// Reads the option words up to the first operand or `--`.
    fn options(&mut self) -> Result<(), CliError> {
        while let Some(word) = self.argv.get(self.next).cloned() {
            if word == "--" {
                self.next += 1;
                return Ok(());
            }
            if word.len() < 2 || !word.starts_with('-') {
                return Ok(());
            }
            self.next += 1;
            self.word(&word)?;
        }
        Ok(())
    }

    /// One option word (`-n`, `-na`, `-ieth0`, `-i` with its value next): each flag in
    /// it, in order.
    fn word(&mut self, word: &str) -> Result<(), CliError> {
        let chars: Vec<char> = word.chars().skip(1).collect();
        for (j, &flag) in chars.iter().enumerate() {
            match flag {
                'n' => self.numeric = true,
                'a' => {
                    no_action_yet(&self.action, flag)?;
                    self.action = Some(NdpAction::Table);
                }
                'A' | 'd' | 'f' | 'i' | 's' => {
                    // The value: the rest of this word, else the next word.
                    let value = if j + 1 < chars.len() {
                        chars[j + 1..].iter().collect()
                    } else {
                        let v = self.argv.get(self.next).cloned();
                        self.next += 1;
                        v.ok_or_else(|| missing(flag))?
                    };
                    return self.with_value(flag, value);
                }
                _ => return Err(usage(&format!("Unrecognized flag \"-{flag}\""))),
            }
        }
        Ok(())
    }

    /// A flag that takes a value.
    fn with_value(&mut self, flag: char, value: String) -> Result<(), CliError> {
        if flag == 'i' {
            self.iface = Some(value);
            return Ok(());
        }
        no_action_yet(&self.action, flag)?;
        self.action = Some(match flag {
            'A' => NdpAction::Repeat {
                period: period(&value)?,
            },
            'd' => NdpAction::Delete { host: value },
            'f' => NdpAction::File { path: value },
            _ => self.set(value)?,
        });
        Ok(())
    }

    /// `-s HOST`: the lladdr after it, then every word to the end as its options (ndp
    /// takes no flag after them).
    fn set(&mut self, host: String) -> Result<NdpAction, CliError> {
        let lladdr = self.argv.get(self.next).cloned().ok_or_else(|| {
            usage(&format!(
                "Missing link-layer address after the node address, \"{host}\""
            ))
        })?;
        let opts = self.argv[self.next + 1..].to_vec();
        if let Some(dash) = opts.iter().find(|w| w.starts_with('-')) {
            return Err(usage(&format!(
                "Encountered \"{dash}\" after flag parsing is done"
            )));
        }
        self.next = self.argv.len();
        Ok(NdpAction::Set { host, lladdr, opts })
    }
}

/// Parses the words after `ndp`. Errors: ndp's usage errors (exit 1).
pub fn parse(argv: &[String]) -> Result<Command, CliError> {
    if argv.is_empty() {
        return Err(usage("No arguments given."));
    }
    if argv.len() == 1 && argv[0] == "help" {
        return Ok(Command::Help(Topic::Ndp));
    }
    let mut g = Getopt {
        argv: legacy(argv),
        next: 0,
        numeric: false,
        iface: None,
        action: None,
    };
    g.options()?;
    let left = &g.argv[g.next.min(g.argv.len())..];
    let action = match g.action {
        Some(_) if !left.is_empty() => {
            return Err(usage("Extra arguments leftover after parsing flags"))
        }
        Some(a) => a,
        None if left.len() != 1 => return Err(usage("Multiple arguments given without any flags")),
        None => NdpAction::Get {
            host: left[0].clone(),
        },
    };
    Ok(Command::Ndp(NdpArgs {
        numeric: g.numeric,
        iface: g.iface,
        action,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<NdpArgs, CliError> {
        let v: Vec<String> = s.split_whitespace().map(String::from).collect();
        match parse(&v)? {
            Command::Ndp(a) => Ok(a),
            c => panic!("{c:?}"),
        }
    }

    fn reason(s: &str) -> String {
        let e = p(s).unwrap_err();
        assert_eq!(e.code, 1, "{s}");
        assert!(e.message.ends_with(USAGE), "{s}: {}", e.message);
        e.message.lines().next().unwrap().to_string()
    }

    #[test]
    fn ndp_forms() {
        let a = p("-na").unwrap();
        assert!(a.numeric);
        assert_eq!(a.action, NdpAction::Table);
        let a = p("-ieth0 -s fd00::1 2:0:0:0:0:1 temp router").unwrap();
        assert_eq!(a.iface.as_deref(), Some("eth0"));
        assert_eq!(
            a.action,
            NdpAction::Set {
                host: "fd00::1".into(),
                lladdr: "2:0:0:0:0:1".into(),
                opts: vec!["temp".into(), "router".into()],
            }
        );
        assert_eq!(p("-A 5").unwrap().action, NdpAction::Repeat { period: 5 });
        assert_eq!(
            p("-i eth0 -d host").unwrap().action,
            NdpAction::Delete {
                host: "host".into()
            }
        );
        assert_eq!(
            p("-f /tmp/x").unwrap().action,
            NdpAction::File {
                path: "/tmp/x".into()
            }
        );
        assert_eq!(
            p("-- -host").unwrap().action,
            NdpAction::Get {
                host: "-host".into()
            }
        );
    }

    #[test]
    fn neighs_own_words() {
        assert_eq!(p("show").unwrap().action, NdpAction::Table);
        let a = p("get fd00::1 dev eth0").unwrap();
        assert_eq!(a.iface.as_deref(), Some("eth0"));
        assert_eq!(
            a.action,
            NdpAction::Get {
                host: "fd00::1".into()
            }
        );
        let a = p("-s fd00::1 2:0:0:0:0:1 temp -i eth0").unwrap();
        assert_eq!(a.iface.as_deref(), Some("eth0"));
        let a = p("-s fd00::1 2:0:0:0:0:1 -i eth0 temp router").unwrap();
        assert_eq!(a.iface.as_deref(), Some("eth0"));
        let NdpAction::Set { opts, .. } = a.action else {
            panic!()
        };
        assert_eq!(opts, ["temp", "router"]);
        let a = p("-d fd00::1 -i eth0").unwrap();
        assert_eq!(a.iface.as_deref(), Some("eth0"));
        // A host named like a flag's value stays a host.
        assert_eq!(
            p("-i eth0 dev").unwrap().action,
            NdpAction::Get { host: "dev".into() }
        );
        let a = p("delete fd00::1").unwrap();
        assert!(matches!(a.action, NdpAction::Delete { .. }));
        let v = vec!["help".to_string()];
        assert_eq!(parse(&v).unwrap(), Command::Help(Topic::Ndp));
    }

    #[test]
    fn usage_errors_as_ndp() {
        let e = parse(&[]).unwrap_err();
        assert!(e.message.starts_with("ndp: No arguments given.\n"));
        assert_eq!(reason("-x"), "ndp: Unrecognized flag \"-x\"");
        assert_eq!(reason("-i"), "ndp: Missing interface name after -i");
        assert_eq!(reason("-d"), "ndp: Missing node name after -d");
        assert_eq!(
            reason("-s fd00::1"),
            "ndp: Missing link-layer address after the node address, \"fd00::1\""
        );
        assert_eq!(
            reason("-s fd00::1 2:0:0:0:0:1 temp -n"),
            "ndp: Encountered \"-n\" after flag parsing is done"
        );
        assert_eq!(
            reason("-a -d x"),
            "ndp: Already going to print all entries (-a), but extra -d given"
        );
        assert_eq!(
            reason("-d x -s y z"),
            "ndp: Already going to delete an entry (-d), but extra -s given"
        );
        assert_eq!(
            reason("-a extra"),
            "ndp: Extra arguments leftover after parsing flags"
        );
        assert_eq!(
            reason("a b"),
            "ndp: Multiple arguments given without any flags"
        );
        assert_eq!(
            reason("-A x"),
            "ndp: Given period should be a positive integer, not \"x\""
        );
        assert_eq!(
            reason("-A -1"),
            "ndp: Given period should be a positive integer, not \"-1\""
        );
        assert_eq!(
            reason("-A 86401"),
            "ndp: Given period should be shorter than a day; given \"86401\" seconds"
        );
    }
}
