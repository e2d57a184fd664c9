//! The kernel's refusal of a request: errno plus the extended-ack text.

use std::error::Error;
use std::fmt;
use std::io;

/// What the kernel answered in an `NLMSG_ERROR` (or a failed `NLMSG_DONE`): the errno and,
/// when the socket asked for `NETLINK_EXT_ACK`, its explanation ("Invalid link address").
///
/// It travels inside an [`io::Error`] whose kind is the errno's kind; recover it with
/// [`KernelError::from_io`]. `Display` prints what iproute2 prints: `Error: TEXT.` when
/// there is an ext-ack text, `RTNETLINK answers: STRERROR` otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelError {
    /// The positive errno (`ENOENT`, `EEXIST`, `EPERM`, ...).
    pub errno: i32,
    /// The kernel's extended-ack message, without the trailing NUL.
    pub ext_ack: Option<String>,
}

impl KernelError {
    /// Wraps a kernel error into an `io::Error` of the errno's kind. Allocates (once per
    /// failed request).
    pub fn into_io(self) -> io::Error {
        let kind = io::Error::from_raw_os_error(self.errno).kind();
        io::Error::new(kind, self)
    }

    /// The kernel error inside `e`, if `e` came from [`KernelError::into_io`]. O(1).
    pub fn from_io(e: &io::Error) -> Option<&KernelError> {
        e.get_ref()
            .and_then(|inner| inner.downcast_ref::<KernelError>())
    }

    /// Builds one from the raw `error` field (negative errno as sent) and ext-ack bytes.
    pub fn from_wire(error: i32, ext_ack: Option<&[u8]>) -> Self {
        let ext_ack = ext_ack
            .filter(|m| !m.is_empty())
            .map(|m| String::from_utf8_lossy(m).into_owned());
        Self {
            errno: error.checked_neg().unwrap_or(i32::MAX).max(0),
            ext_ack,
        }
    }
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.ext_ack {
            Some(m) if m.ends_with('.') => write!(f, "Error: {m}"),
            Some(m) => write!(f, "Error: {m}."),
            None => write!(f, "RTNETLINK answers: {}", strerror(self.errno)),
        }
    }
}

impl Error for KernelError {}

pub use crate::sys::strerror;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_matches_iproute2() {
        let e = KernelError::from_wire(-libc::EEXIST, None);
        assert_eq!(e.to_string(), "RTNETLINK answers: File exists");
        let e = KernelError::from_wire(-libc::EINVAL, Some(b"Invalid link address"));
        assert_eq!(e.to_string(), "Error: Invalid link address.");
        let e = KernelError::from_wire(-libc::ENOENT, Some(b"Neighbour entry not found."));
        assert_eq!(e.to_string(), "Error: Neighbour entry not found.");
    }

    #[test]
    fn survives_io_error_round_trip() {
        let io = KernelError::from_wire(-libc::EPERM, None).into_io();
        assert_eq!(io.kind(), io::ErrorKind::PermissionDenied);
        assert_eq!(
            KernelError::from_io(&io).map(|k| k.errno),
            Some(libc::EPERM)
        );
        assert!(KernelError::from_io(&io::Error::from_raw_os_error(1)).is_none());
    }
}
