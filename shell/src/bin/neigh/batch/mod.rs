//! `neigh -batch FILE` (`-` for stdin) and `-force`: ip's batch mode, pipelined.
//!
//! The file is read as ip reads it (`lines.rs`: comments, continuations, quoting); each
//! line starts with its object (`neigh`, `neighbor`, `neighbour` or an abbreviation, as
//! ip matches objects) and the rest is a `neigh` command line. What a line's failure does
//! is what it does in ip 6.1: an error ip *returns* from (`Cannot find device`, `Flush
//! requires arguments.`, an unknown object, ...) prints `Command failed FILE:LINE` and ends
//! the batch unless `-force` (exit 1 at the end); an error ip *exits* on (any kernel
//! refusal of add/replace/change/del, a malformed address or keyword, `help`) ends the
//! batch at once with ip's exit code, whatever `-force` says.
//!
//! Changes are pipelined: consecutive add/replace/change/del lines that are predicted to
//! succeed (`table.rs`) go into a window of up to [`WINDOW_BYTES`] sent in one datagram,
//! acknowledged once at its end, every refusal still reported
//! ([`RouteSocket::send_window`]). A line predicted to fail, any other command, any error
//! and the end of input first drain the window, so output, errors and the point where a
//! failing batch stops come in line order, as with ip. Only a change the prediction could
//! not see (another process changing the table during the batch) can fail inside a
//! window; the lines after it in that window have then been applied too, and neigh says
//! which.

mod lines;
mod table;

use std::fs::File;
use std::io::{self, BufRead, BufReader};

use neigh::netlink::{KernelError, RouteSocket, WINDOW_BYTES};
use neigh_core::wire::nlmsg::align;
use neigh_core::wire::request::REQUEST_BUF_LEN;

use crate::cli::{self, Command, Globals, Invocation, ModifyArgs, Setup, Topic};
use crate::error::CliError;
use crate::links::LinkTable;
use crate::{execute, modify, open_socket};
use lines::{LineReader, WordsError};
use table::{Outcome, TableModel};

/// Runs the batch `file` with the options of `inv` (`-force` among them). Returns the
/// batch's result as ip's exit status: `Ok` for 0, an error with code 1 (its message
/// already printed) when a command failed under `-force` or stopped the batch, or the
/// code of the error ip exits on.
pub fn run(file: &str, inv: &Invocation) -> Result<(), CliError> {
    let input: Box<dyn BufRead> = if file == "-" {
        Box::new(io::stdin().lock())
    } else {
        let f = File::open(file).map_err(|e| {
            let text = e
                .raw_os_error()
                .map_or_else(|| e.to_string(), neigh::netlink::strerror);
            CliError::new(
                1,
                format!("Cannot open file \"{file}\" for reading: {text}"),
            )
        })?;
        Box::new(BufReader::with_capacity(256 << 10, f))
    };
    let mut batch = BatchRun::new(inv)?;
    let mut reader = LineReader::new(input);
    let mut failed = false;
    loop {
        let line = match reader.next_line() {
            Ok(Some(l)) => l,
            Ok(None) => break,
            Err(e) => {
                batch.drain()?;
                return Err(CliError::from_io(1, file, &e));
            }
        };
        let words = match lines::words(&line) {
            Ok(w) => w,
            Err(WordsError(text)) => {
                batch.drain()?;
                return Err(CliError::new(1, text));
            }
        };
        if words.is_empty() {
            continue;
        }
        if let Err(e) = batch.line(&words, reader.line_no) {
            if !e.recoverable {
                return Err(e);
            }
            if !e.message.is_empty() {
                eprintln!("{}", e.message);
            }
            eprintln!("Command failed {file}:{}", reader.line_no);
            failed = true;
            if !inv.setup.force {
                break;
            }
        }
    }
    batch.drain()?;
    if failed {
        return Err(CliError::new(1, ""));
    }
    Ok(())
}

/// What a line's first word names, matched in ip's order of objects.
enum Object {
    Neigh,
    Ntable,
    /// `help`: ip's usage, which ends the batch (exit 255).
    Help,
    /// Another object ip knows, or none: neigh runs only `neigh` lines.
    Unknown,
}

/// ip 6.1's objects in the order `do_cmd` tries them (so `n` is `neighbor`, `a` is
/// `address`).
const IP_OBJECTS: &[&str] = &[
    "address",
    "addrlabel",
    "maddress",
    "route",
    "rule",
    "neighbor",
    "neighbour",
    "ntable",
    "ntbl",
    "link",
    "l2tp",
    "fou",
    "ila",
    "macsec",
    "tunnel",
    "tunl",
    "tuntap",
    "tap",
    "token",
    "tcpmetrics",
    "tcp_metrics",
    "monitor",
    "xfrm",
    "mroute",
    "mrule",
    "netns",
    "netconf",
    "vrf",
    "sr",
    "nexthop",
    "mptcp",
    "help",
];

fn object(word: &str) -> Object {
    match IP_OBJECTS.iter().find(|o| cli::matches(word, o)) {
        Some(&"neighbor") | Some(&"neighbour") => Object::Neigh,
        Some(&"ntable") | Some(&"ntbl") => Object::Ntable,
        Some(&"help") => Object::Help,
        _ => Object::Unknown,
    }
}

/// Requests waiting to be sent together.
#[derive(Default)]
struct Window {
    bytes: Vec<u8>,
    first_seq: u32,
    count: u32,
    /// The batch line of each request.
    lines: Vec<u32>,
}

/// One batch run: one socket, the interface table and the table model it keeps, the
/// window in flight.
struct BatchRun {
    g: Globals,
    setup: Setup,
    sock: RouteSocket,
    links: Option<LinkTable>,
    table: TableModel,
    window: Window,
}

impl BatchRun {
    fn new(inv: &Invocation) -> Result<Self, CliError> {
        Ok(Self {
            g: inv.g,
            setup: inv.setup.clone(),
            sock: open_socket(&inv.setup)?,
            links: None,
            table: TableModel::default(),
            window: Window::default(),
        })
    }

    /// Runs one line (its words, object first). Errors: the command's, after every
    /// earlier line has been applied.
    fn line(&mut self, words: &[String], line_no: u32) -> Result<(), CliError> {
        let parsed = match object(&words[0]) {
            Object::Neigh => {
                let (mut g, mut setup) = (self.g, self.setup.clone());
                cli::command(&words[1..], &mut g, &mut setup).map(|c| (c, g, setup))
            }
            Object::Ntable => crate::ntable::parse(&words[1..])
                .map(|c| (Command::Ntable(c), self.g, self.setup.clone())),
            Object::Help => Ok((Command::Help(Topic::All), self.g, self.setup.clone())),
            Object::Unknown => Err(CliError::new(
                1,
                format!("Object \"{}\" is unknown, try \"neigh help\".", words[0]),
            )
            .recoverable()),
        };
        let (cmd, g, setup) = match parsed {
            Ok(p) => p,
            Err(e) => {
                self.drain()?;
                return Err(e);
            }
        };
        if let Command::Modify(a) = &cmd {
            if self.queue(a, line_no)? {
                return Ok(());
            }
        }
        self.drain()?;
        match &cmd {
            Command::Modify(a) => self.modify_alone(a),
            Command::Show(_) | Command::Get(_) => execute(&cmd, &g, &setup),
            Command::Batch(_) => Err(CliError::new(255, "-batch cannot be nested")),
            other => {
                // Anything else may change the table behind the model's back.
                self.table.invalidate();
                execute(other, &g, &setup)
            }
        }
    }

    /// The interface table, loaded on first use (again when `reload`).
    fn links(&mut self, reload: bool) -> Result<&LinkTable, CliError> {
        if reload || self.links.is_none() {
            let t = LinkTable::load(&mut self.sock)
                .map_err(|e| CliError::from_io(1, "Cannot send dump request", &e))?;
            self.links = Some(t);
        }
        Ok(self.links.get_or_insert_with(LinkTable::default))
    }

    /// The index of `args`' device, reloading the table once if the name is unknown (ip
    /// falls back to `if_nametoindex`).
    fn ifindex(&mut self, args: &ModifyArgs) -> Result<u32, CliError> {
        match modify::ifindex(self.links(false)?, args) {
            Err(e) if args.dev.is_some() => modify::ifindex(self.links(true)?, args).map_err(|_| e),
            r => r,
        }
    }

    /// Puts the change of line `line_no` into the window if it is predicted to succeed;
    /// false when it must go alone. Errors: the table could not be read.
    fn queue(&mut self, args: &ModifyArgs, line_no: u32) -> Result<bool, CliError> {
        let Ok(ifindex) = self.ifindex(args) else {
            return Ok(false);
        };
        let outcome = self
            .table
            .predict(&mut self.sock, ifindex, args)
            .map_err(|e| CliError::from_io(1, "Dump terminated", &e))?;
        if outcome != Outcome::Succeeds {
            return Ok(false);
        }
        let mut seq = self.sock.next_seq();
        let w = &self.window;
        if w.count > 0 && seq != w.first_seq.wrapping_add(w.count) {
            // The sequence numbers wrapped: a window's must be consecutive.
            self.drain()?;
            seq = self.sock.next_seq();
        }
        let w = &mut self.window;
        if w.count == 0 {
            w.first_seq = seq;
        }
        let start = w.bytes.len();
        w.bytes.resize(start + REQUEST_BUF_LEN, 0);
        let n = modify::build(&mut w.bytes[start..], seq, ifindex, args)
            .map_err(|e| CliError::new(1, e.to_string()))?;
        w.bytes.truncate(start + align(n));
        w.count += 1;
        w.lines.push(line_no);
        self.table.applied(ifindex, args);
        if self.window.bytes.len() + REQUEST_BUF_LEN > WINDOW_BYTES {
            self.drain()?;
        }
        Ok(true)
    }

    /// Sends the window and checks its answers. Errors: the first refusal, as ip prints
    /// it (exit 2); a socket error.
    fn drain(&mut self) -> Result<(), CliError> {
        let mut w = std::mem::take(&mut self.window);
        if w.count == 0 {
            self.window = w;
            return Ok(());
        }
        let mut first: Option<(u32, KernelError)> = None;
        let sent = self
            .sock
            .send_window(&mut w.bytes, w.first_seq, w.count, |i, k| {
                first.get_or_insert((i, k));
            });
        sent.map_err(|e| CliError::from_io(2, "RTNETLINK answers", &e))?;
        if let Some((i, k)) = first {
            let mut message = k.to_string();
            let i = i as usize;
            if i + 1 < w.lines.len() {
                message.push_str(&format!(
                    "\nneigh: lines {}-{} went to the kernel in one datagram with line {}, which \
                     failed: the kernel applied those it did not refuse (the table changed \
                     while the batch ran)",
                    w.lines[i + 1],
                    w.lines[w.lines.len() - 1],
                    w.lines[i]
                ));
            }
            return Err(CliError::new(2, message));
        }
        // Keep the buffer's capacity for the next window.
        w.bytes.clear();
        w.lines.clear();
        w.count = 0;
        self.window = w;
        Ok(())
    }

    /// A change that may fail, sent alone and waited for.
    fn modify_alone(&mut self, args: &ModifyArgs) -> Result<(), CliError> {
        let ifindex = self.ifindex(args)?;
        let links = self.links.get_or_insert_with(LinkTable::default);
        modify::modify_with(&mut self.sock, links, args)?;
        self.table.applied(ifindex, args);
        Ok(())
    }
}
