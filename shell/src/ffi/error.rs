//! Status codes of the C API, [`neigh_strerror`], [`neigh_last_error`], and the mapping from
//! the Rust errors ([`MapError`], [`WorkspaceError`]) to codes.
//!
//! Codes are negative Linux errno values (so `-rc` can be handed to `strerror(3)` too), but
//! [`neigh_strerror`] gives the meaning each has in this API. The literal values are checked
//! against `libc` in the tests (cbindgen cannot evaluate `-libc::EINVAL`).

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CStr, CString};
use std::fmt::Display;

use neigh_core::map::MapError;

use crate::region::RegionError;
use crate::workspace::{FileKind, WorkspaceError};

/// Success.
pub const NEIGH_OK: c_int = 0;
/// A lookup found the key; the out entry was written.
pub const NEIGH_FOUND: c_int = 1;
/// A lookup did not find the key (no such neighbor in the map); the out entry is untouched.
pub const NEIGH_ABSENT: c_int = 0;
/// An upsert inserted a new key.
pub const NEIGH_INSERTED: c_int = 1;
/// An upsert overwrote the entry of a present key.
pub const NEIGH_UPDATED: c_int = 0;
/// A remove removed a present key.
pub const NEIGH_REMOVED: c_int = 1;

/// -EPERM: the operation is not permitted (a system call refused it).
pub const NEIGH_EPERM: c_int = -1;
/// -ENOENT: no map of that name exists (is the mirror running?).
pub const NEIGH_ENOENT: c_int = -2;
/// -EINTR: a system call was interrupted by a signal; retry.
pub const NEIGH_EINTR: c_int = -4;
/// -EIO: a system call failed without an errno.
pub const NEIGH_EIO: c_int = -5;
/// -EBADF: a file descriptor the call needed was not valid (closed under it).
pub const NEIGH_EBADF: c_int = -9;
/// -EAGAIN: the resolution request ring is full; the request was dropped (and counted);
/// retry later.
pub const NEIGH_EAGAIN: c_int = -11;
/// -ENOMEM: out of memory (the handle or a mapping could not be allocated).
pub const NEIGH_ENOMEM: c_int = -12;
/// -EACCES: the named region belongs to another user, is writable by others, or the file
/// permissions refuse the requested access.
pub const NEIGH_EACCES: c_int = -13;
/// -EFAULT: a required pointer argument is NULL.
pub const NEIGH_EFAULT: c_int = -14;
/// -EBUSY: a lookup gave up because a writer kept moving entries (inserting, removing) in
/// the key's range for the whole bounded retry budget; value updates of present entries
/// never cause it. The key may or may not be present; retry later. A writer that died in
/// the middle of a move makes this permanent for that range: check the writer's
/// heartbeat. From `neigh_mirror_create`: a live mirror already keeps the map of that name;
/// from `neigh_mirror_poll` and `neigh_mirror_run`: this mirror no longer owns its map
/// (another mirror took it over or replaced it, or its run ended).
pub const NEIGH_EBUSY: c_int = -16;
/// -ENODEV: no such network interface.
pub const NEIGH_ENODEV: c_int = -19;
/// -EISDIR: the map's name in `/dev/shm` (or a hugetlbfs) is a directory, not a region.
pub const NEIGH_EISDIR: c_int = -21;
/// -EINVAL: an invalid argument: a pointer not aligned for its type (a region not on a
/// `neigh_map_align()` boundary), an unknown access mode, an invalid map name (see
/// `neigh_last_error()` for the rule it breaks), a map name taken by a FIFO, socket or
/// device instead of a region file, ifindex 0, a capacity out of range.
pub const NEIGH_EINVAL: c_int = -22;
/// -ENFILE: the system-wide limit on open files was reached.
pub const NEIGH_ENFILE: c_int = -23;
/// -EMFILE: this process's limit on open files was reached.
pub const NEIGH_EMFILE: c_int = -24;
/// -ENOSPC: from an upsert, the map is full (no free slot within the probe limit;
/// nothing was changed); from `neigh_mirror_create`, the filesystem has no room for the
/// region (nothing was left behind).
pub const NEIGH_ENOSPC: c_int = -28;
/// -EROFS: a write through a handle joined read-only.
pub const NEIGH_EROFS: c_int = -30;
/// -ERANGE: the region is smaller than the map's layout needs.
pub const NEIGH_ERANGE: c_int = -34;
/// -ENAMETOOLONG: the region's path is too long for the system.
pub const NEIGH_ENAMETOOLONG: c_int = -36;
/// -ELOOP: the map's name is a symbolic link; regions are never opened through one.
pub const NEIGH_ELOOP: c_int = -40;
/// -EBADMSG: the region is not a neigh map (bad magic number): not formatted yet.
pub const NEIGH_EBADMSG: c_int = -74;
/// -EOVERFLOW: the requested map does not fit in this address space.
pub const NEIGH_EOVERFLOW: c_int = -75;
/// -EPROTONOSUPPORT: the region was formatted with a map layout version this library does
/// not read (a newer or older neigh).
pub const NEIGH_EPROTONOSUPPORT: c_int = -93;
/// -EOPNOTSUPP: the map's region has no resolution request ring (a bare map).
pub const NEIGH_ENOTSUP: c_int = -95;
/// -EUCLEAN: the map header is corrupted (its shape or offsets are inconsistent).
pub const NEIGH_EUCLEAN: c_int = -117;
/// -ENOTRECOVERABLE: an internal error (a Rust panic) was caught at the API boundary; the
/// handle passed to the call should be left and not used again. From a join: the map is
/// poisoned (a writer failed in the middle of moving entries) and must be formatted again.
pub const NEIGH_ENOTRECOVERABLE: c_int = -131;

/// Returns a static, NUL-terminated English description of `code` (any value returned by
/// this API, or any other negative errno). Never NULL; the string must not be freed.
///
/// Any thread may call it at any time. Cost: O(1), no allocation, no lock.
#[no_mangle]
pub extern "C" fn neigh_strerror(code: c_int) -> *const c_char {
    describe(code).as_ptr()
}

/// The description behind [`neigh_strerror`].
pub(crate) fn describe(code: c_int) -> &'static CStr {
    match code {
        // NEIGH_OK == NEIGH_ABSENT == NEIGH_UPDATED; NEIGH_FOUND == NEIGH_INSERTED == NEIGH_REMOVED.
        NEIGH_OK => c"success",
        NEIGH_FOUND => c"success (found, inserted or removed)",
        NEIGH_EPERM => c"operation not permitted",
        NEIGH_ENOENT => c"no map of that name (is the mirror running?)",
        NEIGH_EINTR => c"interrupted by a signal (retry)",
        NEIGH_EIO => c"system call failed",
        NEIGH_EBADF => c"bad file descriptor",
        NEIGH_EAGAIN => c"resolution request ring full, retry later",
        NEIGH_ENOMEM => c"out of memory",
        NEIGH_EACCES => c"permission denied (region owned by another user or writable by others)",
        NEIGH_EFAULT => c"null pointer argument",
        NEIGH_EBUSY => c"busy: a writer kept moving the entries a lookup needed (retry later), or another live mirror keeps the map",
        NEIGH_ENODEV => c"no such network interface",
        NEIGH_EISDIR => c"map name is a directory, not a region file",
        NEIGH_EINVAL => c"invalid argument (misaligned pointer, bad mode, name, ifindex or capacity, or a map name that is not a regular file)",
        NEIGH_ENFILE => c"too many open files in the system",
        NEIGH_EMFILE => c"too many open files in this process",
        NEIGH_ENOSPC => c"no space: the map is full (no free slot within probe_max), or no room for the region on its filesystem",
        NEIGH_EROFS => c"map handle was joined read-only",
        NEIGH_ERANGE => c"region is smaller than the map layout needs",
        NEIGH_ENAMETOOLONG => c"region path too long",
        NEIGH_ELOOP => c"map name is a symbolic link (never followed)",
        NEIGH_EBADMSG => c"region is not a neigh map (format it first)",
        NEIGH_EOVERFLOW => c"map does not fit in this address space",
        NEIGH_EPROTONOSUPPORT => c"map layout version not supported by this library",
        NEIGH_ENOTSUP => c"map has no resolution request ring",
        NEIGH_EUCLEAN => c"corrupted map header",
        NEIGH_ENOTRECOVERABLE => c"internal error (Rust panic caught at the API boundary)",
        c if c > 0 => c"success",
        _ => c"unknown error",
    }
}

thread_local! {
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

/// Returns a NUL-terminated description, with details (path, sizes, errno text), of the
/// last error returned to this thread by a lifecycle call (`neigh_map_format`,
/// `neigh_map_join`, `neigh_map_join_shm`, `neigh_mirror_create`); "" if there was none.
/// Lookups, writes and requests do not set it (they must not allocate).
///
/// The string belongs to the library and stays valid until the next failing lifecycle
/// call on this thread. Cost: O(1).
#[no_mangle]
pub extern "C" fn neigh_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_deref().unwrap_or(c"").as_ptr())
}

/// Records `detail` as this thread's last error and returns `code`. Allocates: only for
/// lifecycle calls, never on the lookup or write path.
pub(crate) fn fail(code: c_int, detail: impl Display) -> c_int {
    let text = detail.to_string().replace('\0', " ");
    if let Ok(c) = CString::new(text) {
        LAST_ERROR.with(|e| *e.borrow_mut() = Some(c));
    }
    code
}

/// Where a [`MapError`] came from: the caller's parameters (format) or a region's header
/// (join). A bad shape is the caller's mistake in the first case, corruption in the second.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    Params,
    Header,
}

/// The code for a map error.
pub(crate) fn map_error_code(e: &MapError, origin: Origin) -> c_int {
    match e {
        MapError::Misaligned { .. } => NEIGH_EINVAL,
        MapError::RegionTooSmall { .. } => NEIGH_ERANGE,
        MapError::BadMagic { .. } => NEIGH_EBADMSG,
        MapError::UnsupportedVersion { .. } => NEIGH_EPROTONOSUPPORT,
        MapError::BadCapacity { .. }
        | MapError::BadLockCount { .. }
        | MapError::BadProbeMax { .. } => match origin {
            Origin::Params => NEIGH_EINVAL,
            Origin::Header => NEIGH_EUCLEAN,
        },
        MapError::LayoutMismatch { .. } => NEIGH_EUCLEAN,
        MapError::TooLarge => NEIGH_EOVERFLOW,
        MapError::Poisoned => NEIGH_ENOTRECOVERABLE,
    }
}

/// The code for a region error: its map part as [`map_error_code`], a bad ring header
/// after the map `NEIGH_EUCLEAN`, a mapping failure as [`workspace_error_code`].
pub(crate) fn region_error_code(e: &RegionError, origin: Origin) -> c_int {
    match e {
        RegionError::Workspace(w) => workspace_error_code(w),
        RegionError::Map(m) => map_error_code(m, origin),
        RegionError::Ring(_) => NEIGH_EUCLEAN,
    }
}

/// The code for a workspace (shared memory) error: system call failures keep their errno.
pub(crate) fn workspace_error_code(e: &WorkspaceError) -> c_int {
    match e {
        WorkspaceError::BadName(_) => NEIGH_EINVAL,
        WorkspaceError::Missing(_) => NEIGH_ENOENT,
        WorkspaceError::TooSmall { .. } => NEIGH_ERANGE,
        WorkspaceError::NotOwned { .. } => NEIGH_EACCES,
        WorkspaceError::NotRegular { kind, .. } => match kind {
            FileKind::Directory => NEIGH_EISDIR,
            FileKind::SymbolicLink => NEIGH_ELOOP,
            _ => NEIGH_EINVAL,
        },
        WorkspaceError::NoSpace { .. } => NEIGH_ENOSPC,
        WorkspaceError::NotHugetlbfs { .. } => NEIGH_EINVAL,
        WorkspaceError::Io { err, .. } => io_code(err),
    }
}

/// The code for an `io::Error`: its errno when it has one; `ResourceBusy` (a live mirror
/// already keeps that map) is [`NEIGH_EBUSY`]; anything else [`NEIGH_EIO`].
pub(crate) fn io_code(e: &std::io::Error) -> c_int {
    match e.raw_os_error() {
        Some(errno) if errno > 0 => -errno,
        _ if e.kind() == std::io::ErrorKind::ResourceBusy => NEIGH_EBUSY,
        _ => NEIGH_EIO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_linux_errno_values() {
        let pairs = [
            (NEIGH_EPERM, libc::EPERM),
            (NEIGH_ENOENT, libc::ENOENT),
            (NEIGH_EINTR, libc::EINTR),
            (NEIGH_EIO, libc::EIO),
            (NEIGH_EBADF, libc::EBADF),
            (NEIGH_EAGAIN, libc::EAGAIN),
            (NEIGH_ENOMEM, libc::ENOMEM),
            (NEIGH_EACCES, libc::EACCES),
            (NEIGH_EFAULT, libc::EFAULT),
            (NEIGH_EBUSY, libc::EBUSY),
            (NEIGH_ENODEV, libc::ENODEV),
            (NEIGH_EISDIR, libc::EISDIR),
            (NEIGH_EINVAL, libc::EINVAL),
            (NEIGH_ENFILE, libc::ENFILE),
            (NEIGH_EMFILE, libc::EMFILE),
            (NEIGH_ENOSPC, libc::ENOSPC),
            (NEIGH_EROFS, libc::EROFS),
            (NEIGH_ERANGE, libc::ERANGE),
            (NEIGH_ENAMETOOLONG, libc::ENAMETOOLONG),
            (NEIGH_ELOOP, libc::ELOOP),
            (NEIGH_EBADMSG, libc::EBADMSG),
            (NEIGH_EOVERFLOW, libc::EOVERFLOW),
            (NEIGH_EPROTONOSUPPORT, libc::EPROTONOSUPPORT),
            (NEIGH_ENOTSUP, libc::EOPNOTSUPP),
            (NEIGH_EUCLEAN, libc::EUCLEAN),
            (NEIGH_ENOTRECOVERABLE, libc::ENOTRECOVERABLE),
        ];
        let mut texts = std::collections::HashSet::new();
        for (code, errno) in pairs {
            assert_eq!(code, -errno);
            let text = describe(code).to_str().expect("ascii");
            assert!(!text.is_empty() && text != "unknown error", "{code}");
            assert!(texts.insert(text), "{code} shares its text");
        }
        assert_eq!(describe(-4000).to_bytes(), b"unknown error");
        assert!(!neigh_strerror(i32::MIN).is_null());
    }

    #[test]
    fn io_errors_keep_their_errno_and_busy_is_ebusy() {
        use std::io::{Error, ErrorKind};
        assert_eq!(io_code(&Error::from_raw_os_error(libc::EPERM)), NEIGH_EPERM);
        assert_eq!(io_code(&Error::from(ErrorKind::ResourceBusy)), NEIGH_EBUSY);
        assert_eq!(io_code(&Error::other("no errno")), NEIGH_EIO);
    }

    #[test]
    fn last_error_keeps_the_detail_of_this_thread() {
        assert_eq!(fail(NEIGH_ERANGE, "region is 10 bytes"), NEIGH_ERANGE);
        // SAFETY: neigh_last_error returns a valid NUL-terminated string owned by this thread.
        let got = unsafe { CStr::from_ptr(neigh_last_error()) };
        assert_eq!(got.to_bytes(), b"region is 10 bytes");
        std::thread::spawn(|| {
            // SAFETY: as above, on the new thread (which has no error yet).
            let other = unsafe { CStr::from_ptr(neigh_last_error()) };
            assert!(other.to_bytes().is_empty());
        })
        .join()
        .expect("thread");
    }
}
