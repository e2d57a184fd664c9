//! Command failures: the one line `ip` would print and the exit code it would return.

use std::fmt;
use std::io;

use neigh::netlink::KernelError;

use crate::addr::family_words;

/// A failed command: `message` goes to stderr as one line, `code` is the exit status.
#[derive(Debug, PartialEq, Eq)]
pub struct CliError {
    /// The text, without trailing newline.
    pub message: String,
    /// The process exit status (non-zero).
    pub code: i32,
    /// ip returns from the command rather than exiting: in a batch, `Command failed
    /// FILE:LINE` follows and `-force` goes on with the next line. Otherwise (ip calls
    /// `exit`) a batch ends at once with `code`.
    pub recoverable: bool,
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl CliError {
    /// A failure with text `message` and exit status `code`.
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code,
            recoverable: false,
        }
    }

    /// The same failure, marked as one ip returns from (see [`CliError::recoverable`]).
    pub fn recoverable(mut self) -> Self {
        self.recoverable = true;
        self
    }

    /// `NEXT_ARG()` ran out of words.
    pub fn incomplete() -> Self {
        Self::new(255, "Command line is not complete. Try option \"help\"")
    }

    /// iproute2's `invarg`.
    pub fn invarg(msg: &str, arg: &str) -> Self {
        Self::new(255, format!("Error: argument \"{arg}\" is wrong: {msg}"))
    }

    /// iproute2's `duparg`.
    pub fn duparg(key: &str, arg: &str) -> Self {
        Self::new(
            255,
            format!("Error: duplicate \"{key}\": \"{arg}\" is the second value."),
        )
    }

    /// iproute2's `duparg2`.
    pub fn duparg2(key: &str, arg: &str) -> Self {
        Self::new(
            255,
            format!("Error: either \"{key}\" is duplicate, or \"{arg}\" is a garbage."),
        )
    }

    /// iproute2's `nodev`.
    pub fn nodev(name: &str) -> Self {
        Self::new(1, format!("Cannot find device \"{name}\"")).recoverable()
    }

    /// iproute2's `get_addr` failure.
    pub fn bad_addr(family: u8, arg: &str) -> Self {
        Self::new(
            1,
            format!(
                "Error: {} address is expected rather than \"{arg}\".",
                family_words(family)
            ),
        )
    }

    /// iproute2's `get_prefix` failure.
    pub fn bad_prefix(family: u8, arg: &str) -> Self {
        Self::new(
            1,
            format!(
                "Error: {} prefix is expected rather than \"{arg}\".",
                family_words(family)
            ),
        )
    }

    /// An `io::Error` from the socket: the kernel's refusal as `ip` prints it (`Error:
    /// EXT-ACK.` or `RTNETLINK answers: STRERROR`), anything else as `CONTEXT: STRERROR`.
    pub fn from_io(code: i32, context: &str, e: &io::Error) -> Self {
        if let Some(k) = KernelError::from_io(e) {
            return Self::new(code, k.to_string());
        }
        let text = match e.raw_os_error() {
            Some(errno) => neigh::netlink::strerror(errno),
            None => e.to_string(),
        };
        Self::new(code, format!("{context}: {text}"))
    }
}
