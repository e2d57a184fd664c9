//! [`MirrorError`]: every failure of the mirror's API, at start and while it runs.

use std::fmt;
use std::io;

use crate::region::RegionError;

/// Why a mirror could not start or had to stop.
#[derive(Debug)]
pub enum MirrorError {
    /// Creating or formatting the shared region failed, or its header was overwritten
    /// while the mirror ran.
    Region(RegionError),
    /// The configuration is out of range ([`super::MirrorConfig::check`] says how).
    Config(String),
    /// A `dev` named in the configuration does not exist.
    NoSuchDevice(String),
    /// A socket operation failed (what, and the error).
    Io(&'static str, io::Error),
    /// This mirror no longer owns its map: another mirror took it over or replaced it
    /// (see `owner.rs`), or this mirror was stopped. It writes nothing more.
    Replaced(String),
}

impl MirrorError {
    /// The underlying system error, if the failure was one.
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            Self::Io(_, e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for MirrorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Region(e) => e.fmt(f),
            Self::Config(what) => f.write_str(what),
            Self::NoSuchDevice(d) => write!(f, "Cannot find device \"{d}\""),
            Self::Io(what, e) => write!(f, "{what}: {e}"),
            Self::Replaced(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for MirrorError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Region(e) => Some(e),
            Self::Io(_, e) => Some(e),
            Self::NoSuchDevice(_) | Self::Config(_) | Self::Replaced(_) => None,
        }
    }
}

impl From<RegionError> for MirrorError {
    fn from(e: RegionError) -> Self {
        Self::Region(e)
    }
}
