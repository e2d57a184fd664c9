//! Workspace: the memory a neighbor map lives in.
//!
//! Three kinds, one type ([`Workspace`]), all page-aligned (so far stricter than the map's
//! [`neigh_core::map::REGION_ALIGN`]) and unmapped on drop:
//!
//! - [`Workspace::anonymous`]: private anonymous memory for a map used inside one process.
//! - [`Workspace::create_shm`]: a named region in `/dev/shm/NAME`, mode 0600, created (or
//!   re-created) by the mirror, the single writer. With [`ShmOptions::hugetlb`] it is backed
//!   by a hugetlbfs file instead and falls back to `/dev/shm` with a logged warning when
//!   huge pages cannot be had.
//! - [`Workspace::open_shm`]: join an existing named region, read-only (a data plane) or
//!   read-write (a second writer, the C FFI).
//!
//! A workspace knows nothing of the map's layout: formatting and validating the region
//! (magic, layout version, sizes) is [`crate::region`]'s job, over
//! [`Workspace::as_mut_ptr`] and [`Workspace::len`].

use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;

use rustix::fs::{fchmod, fstat, ftruncate, Mode, OFlags};
use rustix::mm::{MapFlags, ProtFlags};
use rustix::process::geteuid;

/// Where named regions live.
pub const SHM_DIR: &str = "/dev/shm";
/// Where a hugetlbfs is usually mounted.
pub const HUGETLB_DIR: &str = "/dev/hugepages";
/// Huge page size assumed for rounding hugetlbfs file sizes (x86-64 default).
const HUGE_PAGE: usize = 2 << 20;

/// How a named region is joined: [`Access::ReadOnly`] maps it `PROT_READ` (a stray write
/// faults instead of corrupting), [`Access::ReadWrite`] `PROT_READ | PROT_WRITE`.
pub use neigh_core::region::Access;

/// Options for [`Workspace::create_shm`].
#[derive(Clone, Debug, Default)]
pub struct ShmOptions {
    /// Back the region by a file in this hugetlbfs directory (e.g. [`HUGETLB_DIR`]);
    /// falls back to [`SHM_DIR`] with a warning when that fails.
    pub hugetlb: Option<PathBuf>,
}

/// Why a workspace could not be had. Each variant names the path it is about.
#[derive(Debug)]
pub enum WorkspaceError {
    /// The name is empty, too long, `.`/`..`, or contains `/` or NUL.
    BadName(String),
    /// No region of that name exists.
    Missing(PathBuf),
    /// The region exists but is smaller than needed (or empty).
    TooSmall { path: PathBuf, len: u64, need: u64 },
    /// The region belongs to another user, or others may write it: refusing to trust it.
    NotOwned { path: PathBuf, uid: u32, mode: u32 },
    /// A system call failed.
    Io {
        path: PathBuf,
        op: &'static str,
        err: io::Error,
    },
}

impl fmt::Display for WorkspaceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadName(n) => write!(
                f,
                "invalid map name {n:?}: use 1-255 characters without '/' and not '.' or '..'"
            ),
            Self::Missing(p) => write!(f, "{}: no such map (is the mirror running?)", p.display()),
            Self::TooSmall { path, len, need } => write!(
                f,
                "{}: region is {len} bytes, need at least {need}",
                path.display()
            ),
            Self::NotOwned { path, uid, mode } => write!(
                f,
                "{}: owned by uid {uid} with mode {mode:o}; refusing a region another user can write",
                path.display()
            ),
            Self::Io { path, op, err } => write!(f, "{}: {op}: {err}", path.display()),
        }
    }
}

impl std::error::Error for WorkspaceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { err, .. } => Some(err),
            _ => None,
        }
    }
}

/// Where a workspace's memory comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backing {
    Anonymous,
    /// A named file (in `/dev/shm` or a hugetlbfs).
    File(PathBuf),
}

/// A mapped, page-aligned memory region; unmapped on drop (a named region's file stays).
#[derive(Debug)]
pub struct Workspace {
    ptr: NonNull<u8>,
    len: usize,
    access: Access,
    backing: Backing,
}

// SAFETY: a Workspace is a plain mapping with no thread affinity; all concurrent access to
// its bytes goes through the map's atomics.
unsafe impl Send for Workspace {}
// SAFETY: as above: `&Workspace` only hands out the pointer and length.
unsafe impl Sync for Workspace {}

impl Workspace {
    /// Maps `len` bytes of private, zeroed anonymous memory, read-write.
    ///
    /// Errors: `len` of 0, or `mmap` failing (ENOMEM). Cost: one `mmap`.
    pub fn anonymous(len: usize) -> Result<Self, WorkspaceError> {
        let path = PathBuf::from("<anonymous>");
        if len == 0 {
            return Err(WorkspaceError::TooSmall {
                path,
                len: 0,
                need: 1,
            });
        }
        let ptr = map(None, len, Access::ReadWrite, MapFlags::PRIVATE).map_err(|err| {
            WorkspaceError::Io {
                path,
                op: "mmap",
                err,
            }
        })?;
        Ok(Self {
            ptr,
            len,
            access: Access::ReadWrite,
            backing: Backing::Anonymous,
        })
    }

    /// Creates the named region `NAME` of `len` bytes, mode 0600, zero-filled, mapped
    /// shared and read-write. An existing region of that name owned by this user is
    /// replaced: unlinked and created anew, so readers still mapping the old one keep
    /// valid (stale) memory instead of faulting on a truncated file; they notice the
    /// stale heartbeat and re-join.
    ///
    /// Errors: a bad name, a region owned by another user, or a failing system call.
    pub fn create_shm(name: &str, len: usize, opts: &ShmOptions) -> Result<Self, WorkspaceError> {
        check_name(name)?;
        if let Some(dir) = &opts.hugetlb {
            let huge_len = len.div_ceil(HUGE_PAGE) * HUGE_PAGE;
            match Self::create_file(
                &dir.join(name),
                huge_len,
                MapFlags::SHARED | MapFlags::POPULATE,
            ) {
                Ok(ws) => return Ok(ws),
                Err(e) => {
                    log::warn!("hugetlbfs region unavailable ({e}); falling back to {SHM_DIR}")
                }
            }
        }
        Self::create_file(&shm_path(name), len, MapFlags::SHARED)
    }

    fn create_file(path: &Path, len: usize, flags: MapFlags) -> Result<Self, WorkspaceError> {
        let io_err = |op, err| WorkspaceError::Io {
            path: path.to_path_buf(),
            op,
            err,
        };
        if len == 0 {
            return Err(WorkspaceError::TooSmall {
                path: path.to_path_buf(),
                len: 0,
                need: 1,
            });
        }
        match std::fs::symlink_metadata(path) {
            Ok(meta) => {
                use std::os::unix::fs::MetadataExt;
                if meta.uid() != geteuid().as_raw() || !meta.file_type().is_file() {
                    return Err(WorkspaceError::NotOwned {
                        path: path.to_path_buf(),
                        uid: meta.uid(),
                        mode: meta.mode(),
                    });
                }
                std::fs::remove_file(path).map_err(|e| io_err("unlink", e))?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("stat", e)),
        }
        let owner_rw = Mode::from_raw_mode(0o600);
        let fd = open(path, OFlags::RDWR | OFlags::CREATE | OFlags::EXCL, owner_rw)
            .map_err(|e| io_err("open", e))?;
        // The umask may have narrowed 0600 further, never widened it; make it exact.
        fchmod(&fd, owner_rw).map_err(|e| io_err("fchmod", e.into()))?;
        let Ok(file_len) = i64::try_from(len) else {
            return Err(io_err(
                "ftruncate",
                io::Error::from_raw_os_error(libc::EFBIG),
            ));
        };
        if let Err(e) = ftruncate(&fd, file_len as u64) {
            let _ = std::fs::remove_file(path);
            return Err(io_err("ftruncate", e.into()));
        }
        let ptr = map(Some(&fd), len, Access::ReadWrite, flags).map_err(|err| {
            let _ = std::fs::remove_file(path);
            io_err("mmap", err)
        })?;
        Ok(Self {
            ptr,
            len,
            access: Access::ReadWrite,
            backing: Backing::File(path.to_path_buf()),
        })
    }

    /// Joins the existing named region `NAME` (in `/dev/shm`, else in the hugetlbfs at
    /// [`HUGETLB_DIR`]), mapping all of it shared with the given access.
    ///
    /// Errors: a bad name; [`WorkspaceError::Missing`]; an empty region
    /// ([`WorkspaceError::TooSmall`]); a region owned by another user or writable by group
    /// or others ([`WorkspaceError::NotOwned`]); a failing system call (EACCES...).
    pub fn open_shm(name: &str, access: Access) -> Result<Self, WorkspaceError> {
        check_name(name)?;
        let mut path = shm_path(name);
        if !path.exists() {
            let huge = Path::new(HUGETLB_DIR).join(name);
            if huge.exists() {
                path = huge;
            }
        }
        Self::open_file(&path, access)
    }

    /// Joins the region in the file at `path`; see [`Workspace::open_shm`].
    pub fn open_file(path: &Path, access: Access) -> Result<Self, WorkspaceError> {
        let io_err = |op, err| WorkspaceError::Io {
            path: path.to_path_buf(),
            op,
            err,
        };
        let oflag = match access {
            Access::ReadOnly => OFlags::RDONLY,
            Access::ReadWrite => OFlags::RDWR,
        };
        let fd = open(path, oflag | OFlags::NOFOLLOW, Mode::empty()).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                WorkspaceError::Missing(path.to_path_buf())
            } else {
                io_err("open", e)
            }
        })?;
        let st = fstat(&fd).map_err(|e| io_err("fstat", e.into()))?;
        if st.st_uid != geteuid().as_raw() || st.st_mode & 0o022 != 0 {
            return Err(WorkspaceError::NotOwned {
                path: path.to_path_buf(),
                uid: st.st_uid,
                mode: st.st_mode & 0o7777,
            });
        }
        let size = u64::try_from(st.st_size).unwrap_or(0);
        let len = usize::try_from(size).unwrap_or(0);
        if len == 0 {
            return Err(WorkspaceError::TooSmall {
                path: path.to_path_buf(),
                len: size,
                need: 1,
            });
        }
        let ptr = map(Some(&fd), len, access, MapFlags::SHARED).map_err(|e| io_err("mmap", e))?;
        Ok(Self {
            ptr,
            len,
            access,
            backing: Backing::File(path.to_path_buf()),
        })
    }

    /// Removes the named region `NAME` from `/dev/shm` (mappings stay valid until dropped).
    /// Missing is not an error.
    pub fn unlink_shm(name: &str) -> Result<(), WorkspaceError> {
        check_name(name)?;
        let path = shm_path(name);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(WorkspaceError::Io {
                path,
                op: "unlink",
                err,
            }),
        }
    }

    /// Start of the region: page-aligned, valid for [`Workspace::len`] bytes while `self`
    /// lives. Writable only when [`Workspace::access`] is [`Access::ReadWrite`].
    pub fn as_mut_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Length of the region in bytes (never 0).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a workspace is never empty. Present for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How the region is mapped.
    pub fn access(&self) -> Access {
        self.access
    }

    /// Where the memory comes from.
    pub fn backing(&self) -> &Backing {
        &self.backing
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        // SAFETY: ptr/len are exactly what mmap returned, mapped once and unmapped once
        // here; the views of the mapping borrow `self`, so none is left.
        let _ = unsafe { rustix::mm::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// `/dev/shm/NAME`.
pub fn shm_path(name: &str) -> PathBuf {
    Path::new(SHM_DIR).join(name)
}

fn check_name(name: &str) -> Result<(), WorkspaceError> {
    let bad = name.is_empty()
        || name.len() > 255
        || name == "."
        || name == ".."
        || name.contains('/')
        || name.contains('\0');
    if bad {
        Err(WorkspaceError::BadName(name.to_owned()))
    } else {
        Ok(())
    }
}

/// `open(2)` with `O_CLOEXEC`.
fn open(path: &Path, flags: OFlags, mode: Mode) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(path, flags | OFlags::CLOEXEC, mode)?)
}

/// Maps `len` bytes of `fd` (or anonymous memory) with `access`'s protection.
fn map(
    fd: Option<&OwnedFd>,
    len: usize,
    access: Access,
    flags: MapFlags,
) -> io::Result<NonNull<u8>> {
    let prot = match access {
        Access::ReadOnly => ProtFlags::READ,
        Access::ReadWrite => ProtFlags::READ | ProtFlags::WRITE,
    };
    // SAFETY: a fresh mapping at an address the kernel chooses (NULL hint), over a valid
    // descriptor or none (anonymous): it aliases no Rust object.
    let p = unsafe {
        match fd {
            Some(fd) => rustix::mm::mmap(std::ptr::null_mut(), len, prot, flags, fd, 0),
            None => rustix::mm::mmap_anonymous(std::ptr::null_mut(), len, prot, flags),
        }
    }?;
    NonNull::new(p.cast()).ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unique(tag: &str) -> String {
        format!("neigh-test-{tag}-{}", std::process::id())
    }

    #[test]
    fn anonymous_is_zeroed_aligned_and_writable() {
        let ws = Workspace::anonymous(10_000).expect("anonymous mapping");
        assert_eq!(ws.as_mut_ptr() as usize % 4096, 0);
        // SAFETY: the mapping is 10_000 bytes, read-write and owned by `ws`.
        let bytes = unsafe { std::slice::from_raw_parts_mut(ws.as_mut_ptr(), ws.len()) };
        assert!(bytes.iter().all(|&b| b == 0));
        bytes[9_999] = 7;
        assert_eq!(bytes[9_999], 7);
        assert!(matches!(
            Workspace::anonymous(0),
            Err(WorkspaceError::TooSmall { .. })
        ));
    }

    #[test]
    fn named_region_is_shared_0600_and_joinable_read_only() {
        use std::os::unix::fs::PermissionsExt;
        let name = unique("share");
        let a = Workspace::create_shm(&name, 8192, &ShmOptions::default()).expect("create");
        let mode = std::fs::metadata(shm_path(&name))
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let b = Workspace::open_shm(&name, Access::ReadOnly).expect("join read-only");
        assert_eq!(b.len(), 8192);
        assert_eq!(b.access(), Access::ReadOnly);
        // SAFETY: both mappings are 8192 bytes and live; `a` is writable.
        unsafe { a.as_mut_ptr().add(100).write_volatile(42) };
        // SAFETY: as above; reading through the read-only mapping of the same file.
        assert_eq!(unsafe { b.as_mut_ptr().add(100).read_volatile() }, 42);
        drop((a, b));
        Workspace::unlink_shm(&name).expect("unlink");
        assert!(matches!(
            Workspace::open_shm(&name, Access::ReadOnly),
            Err(WorkspaceError::Missing(_))
        ));
    }

    #[test]
    fn recreate_replaces_the_file_and_keeps_old_mappings_valid() {
        let name = unique("recreate");
        let old = Workspace::create_shm(&name, 4096, &ShmOptions::default()).expect("create");
        // SAFETY: 4096-byte writable mapping owned by `old`.
        unsafe { old.as_mut_ptr().write_volatile(1) };
        let new = Workspace::create_shm(&name, 16384, &ShmOptions::default()).expect("recreate");
        assert_eq!(new.len(), 16384);
        // SAFETY: `old` is still mapped (its file was unlinked, not truncated).
        assert_eq!(unsafe { old.as_mut_ptr().read_volatile() }, 1);
        // SAFETY: `new` is a fresh zero-filled mapping of 16384 bytes.
        assert_eq!(unsafe { new.as_mut_ptr().read_volatile() }, 0);
        Workspace::unlink_shm(&name).expect("unlink");
    }

    #[test]
    fn bad_names_empty_and_foreign_regions_are_refused() {
        for bad in ["", ".", "..", "a/b", "x\0y"] {
            assert!(matches!(
                Workspace::open_shm(bad, Access::ReadOnly),
                Err(WorkspaceError::BadName(_))
            ));
        }
        let name = unique("empty");
        let path = shm_path(&name);
        std::fs::write(&path, b"").expect("write");
        let mut perms = std::fs::metadata(&path).expect("stat").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o600);
        std::fs::set_permissions(&path, perms.clone()).expect("chmod");
        assert!(matches!(
            Workspace::open_shm(&name, Access::ReadOnly),
            Err(WorkspaceError::TooSmall { len: 0, .. })
        ));
        std::fs::write(&path, [0u8; 64]).expect("write");
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o666);
        std::fs::set_permissions(&path, perms).expect("chmod");
        let err = Workspace::open_shm(&name, Access::ReadOnly).expect_err("world-writable");
        assert!(matches!(err, WorkspaceError::NotOwned { .. }), "{err}");
        std::fs::remove_file(&path).expect("cleanup");
    }

    #[test]
    fn hugetlb_falls_back_to_shm() {
        let name = unique("huge");
        let opts = ShmOptions {
            hugetlb: Some(PathBuf::from("/nonexistent-hugetlbfs")),
        };
        let ws = Workspace::create_shm(&name, 4096, &opts).expect("fallback");
        assert_eq!(ws.backing(), &Backing::File(shm_path(&name)));
        Workspace::unlink_shm(&name).expect("unlink");
    }
}
