//! Workspace: the memory a neighbor map lives in.
//!
//! Three kinds, one type ([`Workspace`]), all page-aligned (so far stricter than the map's
//! [`neigh_core::map::REGION_ALIGN`]) and unmapped on drop:
//!
//! - [`Workspace::anonymous`]: private anonymous memory for a map used inside one process.
//! - [`Workspace::create_shm`]: a named region in `/dev/shm/NAME`, mode 0600, created (or
//!   re-created) by the mirror, the single writer. Its space is reserved up front
//!   (`fallocate`), so a full tmpfs is an error at creation ([`WorkspaceError::NoSpace`]),
//!   never a `SIGBUS` later; a file half made is removed on every failure path. With
//!   [`ShmOptions::hugetlb`] it is backed by a file in that hugetlbfs (checked with
//!   `statfs`) instead and falls back to `/dev/shm` with a logged warning when huge pages
//!   cannot be had.
//! - [`Workspace::open_file`]: join an existing named region, read-only (a data plane) or
//!   read-write (a second writer, the C FFI). [`region_paths`] lists where a region of a
//!   name may be; `crate::region` picks among them.
//!
//! Every path to a region passes [`check_map_name`], the one place map names are checked.
//! Opening never blocks and never follows a symbolic link (`O_NONBLOCK | O_NOFOLLOW`):
//! anything but a regular file is refused before its owner and mode are checked, so a
//! FIFO planted at the name cannot hang a reader.
//!
//! A workspace knows nothing of the map's layout: formatting and validating the region
//! (magic, layout version, sizes) is [`crate::region`]'s job, over
//! [`Workspace::as_mut_ptr`] and [`Workspace::len`].

use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;

use rustix::fs::{fallocate, fchmod, fstat, ftruncate, FallocateFlags, FileType, Mode, OFlags};
use rustix::mm::{MapFlags, ProtFlags};
use rustix::process::geteuid;

/// Where named regions live.
pub const SHM_DIR: &str = "/dev/shm";
/// Where a hugetlbfs is usually mounted.
pub const HUGETLB_DIR: &str = "/dev/hugepages";
/// Huge page size assumed for rounding hugetlbfs file sizes (x86-64 default).
const HUGE_PAGE: usize = 2 << 20;
/// `f_type` of a hugetlbfs (`statfs(2)`).
const HUGETLBFS_MAGIC: i64 = 0x9584_58f6;
/// Longest map name in bytes (`NAME_MAX`).
pub const MAX_NAME_BYTES: usize = 255;

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

/// What a path names when it is not a regular file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Directory,
    SymbolicLink,
    Fifo,
    Socket,
    Device,
    Unknown,
}

impl FileKind {
    fn of(t: FileType) -> Self {
        match t {
            FileType::Directory => Self::Directory,
            FileType::Symlink => Self::SymbolicLink,
            FileType::Fifo => Self::Fifo,
            FileType::Socket => Self::Socket,
            FileType::CharacterDevice | FileType::BlockDevice => Self::Device,
            _ => Self::Unknown,
        }
    }

    /// "a directory", "a FIFO", ...: for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Directory => "a directory",
            Self::SymbolicLink => "a symbolic link",
            Self::Fifo => "a FIFO",
            Self::Socket => "a socket",
            Self::Device => "a device",
            Self::Unknown => "not a regular file",
        }
    }
}

/// Why a workspace could not be had. Each variant names the path it is about.
#[derive(Debug)]
pub enum WorkspaceError {
    /// The name breaks a rule of [`check_map_name`] (the message says which).
    BadName(String),
    /// No region of that name exists.
    Missing(PathBuf),
    /// The region exists but is smaller than needed (or empty).
    TooSmall { path: PathBuf, len: u64, need: u64 },
    /// The region belongs to another user, or others may write it: refusing to trust it.
    NotOwned { path: PathBuf, uid: u32, mode: u32 },
    /// The name is taken by something other than a regular file (a directory, a symbolic
    /// link, a FIFO...): never opened as a region, never replaced.
    NotRegular { path: PathBuf, kind: FileKind },
    /// The filesystem has no room for the region: `free` bytes left (when it says) where
    /// `need` are needed. Nothing was left behind.
    NoSpace {
        path: PathBuf,
        need: u64,
        free: Option<u64>,
    },
    /// The directory given for huge pages is not a hugetlbfs mount (`statfs` type).
    NotHugetlbfs { path: PathBuf, fs_type: i64 },
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
                "invalid map name {n:?}: {} (a map name is 1-{MAX_NAME_BYTES} bytes of \
                 printable UTF-8 without '/', not starting with '-', not '.' or '..')",
                name_problem(n).unwrap_or("refused")
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
            Self::NotRegular { path, kind } => write!(
                f,
                "{}: is {}, not a map's region file; refusing to open or replace it",
                path.display(),
                kind.name()
            ),
            Self::NoSpace { path, need, free } => {
                write!(f, "{}: no room for a {need}-byte region", path.display())?;
                if let Some(free) = free {
                    write!(f, " ({free} bytes free)")?;
                }
                f.write_str(": choose a smaller capacity or give the filesystem more room")
            }
            Self::NotHugetlbfs { path, fs_type } => write!(
                f,
                "{}: not a hugetlbfs mount (filesystem type {fs_type:#x})",
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

    /// Creates the named region `NAME` of `len` bytes, mode 0600, zero-filled, its space
    /// reserved (`fallocate`), mapped shared and read-write. An existing region of that
    /// name owned by this user is replaced: unlinked and created anew, so readers still
    /// mapping the old one keep valid (stale) memory instead of faulting on a truncated
    /// file. (The mirror replaces a map only after marking it superseded, and takes a
    /// compatible one over in place instead: see `mirror/owner.rs`.)
    ///
    /// Errors: a bad name; a name taken by something other than a regular file
    /// ([`WorkspaceError::NotRegular`]) or by another user's region; no room on the
    /// filesystem ([`WorkspaceError::NoSpace`], checked with `statvfs` first, then by the
    /// reservation itself); a hugetlbfs directory that is not one
    /// ([`WorkspaceError::NotHugetlbfs`]); a failing system call. On every error no file
    /// of this call is left behind.
    pub fn create_shm(name: &str, len: usize, opts: &ShmOptions) -> Result<Self, WorkspaceError> {
        check_map_name(name)?;
        if let Some(dir) = &opts.hugetlb {
            check_hugetlbfs(dir)?;
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
                if !meta.file_type().is_file() {
                    return Err(WorkspaceError::NotRegular {
                        path: path.to_path_buf(),
                        kind: FileKind::of(FileType::from_raw_mode(meta.mode())),
                    });
                }
                if meta.uid() != geteuid().as_raw() {
                    return Err(WorkspaceError::NotOwned {
                        path: path.to_path_buf(),
                        uid: meta.uid(),
                        mode: meta.mode() & 0o7777,
                    });
                }
                std::fs::remove_file(path).map_err(|e| io_err("unlink", e))?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("stat", e)),
        }
        check_room(path, len)?;
        let owner_rw = Mode::from_raw_mode(0o600);
        let fd = open(
            path,
            OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW,
            owner_rw,
        )
        .map_err(|e| io_err("open", e))?;
        // From here on, a failure removes the file this call made.
        let made = RemoveOnDrop(Some(path));
        // The umask may have narrowed 0600 further, never widened it; make it exact.
        fchmod(&fd, owner_rw).map_err(|e| io_err("fchmod", e.into()))?;
        reserve(&fd, len).map_err(|err| match err.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::ENOMEM) => WorkspaceError::NoSpace {
                path: path.to_path_buf(),
                need: len as u64,
                free: None,
            },
            _ => io_err("fallocate", err),
        })?;
        let ptr = map(Some(&fd), len, Access::ReadWrite, flags).map_err(|e| io_err("mmap", e))?;
        made.keep();
        Ok(Self {
            ptr,
            len,
            access: Access::ReadWrite,
            backing: Backing::File(path.to_path_buf()),
        })
    }

    /// Joins the existing named region `NAME`: the first of [`region_paths`] that exists
    /// (`/dev/shm` first). `crate::region::Region::open` instead picks among them the one
    /// with a live writer.
    ///
    /// Errors: as [`Workspace::open_file`], and a bad name.
    pub fn open_shm(name: &str, access: Access) -> Result<Self, WorkspaceError> {
        let paths = region_paths(name)?;
        let path = paths
            .iter()
            .find(|p| std::fs::symlink_metadata(p).is_ok())
            .unwrap_or(&paths[0]);
        Self::open_file(path, access)
    }

    /// Joins the region in the file at `path` (one of [`region_paths`]), mapping all of it
    /// shared with the given access. Never blocks, never follows a symbolic link; refuses
    /// anything but a regular file, then a file another user owns or others may write.
    ///
    /// Errors: [`WorkspaceError::Missing`]; [`WorkspaceError::NotRegular`] (a directory,
    /// a symbolic link, a FIFO...); [`WorkspaceError::NotOwned`]; an empty file
    /// ([`WorkspaceError::TooSmall`]); a failing system call (EACCES, EMFILE...).
    pub fn open_file(path: &Path, access: Access) -> Result<Self, WorkspaceError> {
        let io_err = |op, err| WorkspaceError::Io {
            path: path.to_path_buf(),
            op,
            err,
        };
        let not_regular = |kind| WorkspaceError::NotRegular {
            path: path.to_path_buf(),
            kind,
        };
        let oflag = match access {
            Access::ReadOnly => OFlags::RDONLY,
            Access::ReadWrite => OFlags::RDWR,
        };
        // O_NONBLOCK: opening a FIFO would otherwise wait for a writer forever.
        let fd = open(
            path,
            oflag | OFlags::NOFOLLOW | OFlags::NONBLOCK,
            Mode::empty(),
        )
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ENOENT) => WorkspaceError::Missing(path.to_path_buf()),
            Some(libc::EISDIR) => not_regular(FileKind::Directory),
            Some(libc::ELOOP) if is_symlink(path) => not_regular(FileKind::SymbolicLink),
            _ => io_err("open", e),
        })?;
        let st = fstat(&fd).map_err(|e| io_err("fstat", e.into()))?;
        let file_type = FileType::from_raw_mode(st.st_mode);
        if file_type != FileType::RegularFile {
            return Err(not_regular(FileKind::of(file_type)));
        }
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
        check_map_name(name)?;
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

/// Where a region named `NAME` may be: `/dev/shm/NAME`, then `NAME` in every hugetlbfs
/// mount (from `/proc/self/mounts`; [`HUGETLB_DIR`] when that cannot be read). Errors: a
/// bad name. Cost: one read of the mount table.
pub fn region_paths(name: &str) -> Result<Vec<PathBuf>, WorkspaceError> {
    check_map_name(name)?;
    let mut paths = vec![shm_path(name)];
    paths.extend(hugetlbfs_mounts().into_iter().map(|d| d.join(name)));
    Ok(paths)
}

/// The mount points of the hugetlbfs filesystems this process sees.
fn hugetlbfs_mounts() -> Vec<PathBuf> {
    let Ok(table) = std::fs::read_to_string("/proc/self/mounts") else {
        return vec![PathBuf::from(HUGETLB_DIR)];
    };
    table
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            let dir = fields.nth(1)?;
            (fields.next()? == "hugetlbfs").then(|| PathBuf::from(unescape_mount_path(dir)))
        })
        .collect()
}

/// A mount point as `/proc/self/mounts` writes it, with `\ooo` octal escapes undone.
fn unescape_mount_path(s: &str) -> std::ffi::OsString {
    use std::os::unix::ffi::OsStringExt;
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b.get(i + 1..i + 4).and_then(|d| {
            let d = std::str::from_utf8(d).ok()?;
            u8::from_str_radix(d, 8).ok()
        });
        match (b[i], octal) {
            (b'\\', Some(c)) => {
                out.push(c);
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    std::ffi::OsString::from_vec(out)
}

/// Checks a map name: the one place the rules live (the CLI, the C API and every
/// workspace call go through it). A name is 1 to [`MAX_NAME_BYTES`] bytes of UTF-8 (the
/// C API refuses other bytes before calling this), without `/`, NUL or any other control
/// character (a newline in a name would forge lines in logs and listings), not starting
/// with `-` (the command line would read it as an option), and not `.` or `..`. U+FFFD
/// is refused too: it is what the command line's lossy conversion makes of bytes that are
/// not UTF-8.
///
/// Errors: [`WorkspaceError::BadName`], whose message says which rule. O(name length).
pub fn check_map_name(name: &str) -> Result<(), WorkspaceError> {
    match name_problem(name) {
        Some(_) => Err(WorkspaceError::BadName(name.to_owned())),
        None => Ok(()),
    }
}

/// The first rule of [`check_map_name`] that `name` breaks.
fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("empty")
    } else if name.len() > MAX_NAME_BYTES {
        Some("too long")
    } else if name == "." || name == ".." {
        Some("'.' and '..' name directories")
    } else if name.contains('/') {
        Some("contains '/'")
    } else if name.chars().any(char::is_control) {
        Some("contains a control character")
    } else if name.starts_with('-') {
        Some("starts with '-'")
    } else if name.contains(char::REPLACEMENT_CHARACTER) {
        // What a non-UTF-8 name becomes when converted lossily: refused, so two such
        // names never collide.
        Some("not valid UTF-8 (or contains U+FFFD)")
    } else {
        None
    }
}

/// Refuses a hugetlbfs directory that is not one: a file made there would be an
/// ordinary file, which readers do not look for.
fn check_hugetlbfs(dir: &Path) -> Result<(), WorkspaceError> {
    let st = rustix::fs::statfs(dir).map_err(|e| WorkspaceError::Io {
        path: dir.to_path_buf(),
        op: "statfs",
        err: e.into(),
    })?;
    #[allow(clippy::unnecessary_cast)] // f_type's type differs between targets.
    let fs_type = st.f_type as i64;
    if fs_type != HUGETLBFS_MAGIC {
        return Err(WorkspaceError::NotHugetlbfs {
            path: dir.to_path_buf(),
            fs_type,
        });
    }
    Ok(())
}

/// Refuses a region the filesystem of `path` has no room for, by `statvfs`: a clear error
/// before any file is made. A filesystem without a size limit (`f_blocks` 0, as tmpfs
/// and hugetlbfs report when unlimited) is let through; the reservation then decides.
fn check_room(path: &Path, len: usize) -> Result<(), WorkspaceError> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let st = rustix::fs::statvfs(dir).map_err(|e| WorkspaceError::Io {
        path: dir.to_path_buf(),
        op: "statvfs",
        err: e.into(),
    })?;
    if st.f_blocks == 0 {
        return Ok(());
    }
    let free = st.f_bavail.saturating_mul(st.f_frsize.max(1));
    if free < len as u64 {
        return Err(WorkspaceError::NoSpace {
            path: path.to_path_buf(),
            need: len as u64,
            free: Some(free),
        });
    }
    Ok(())
}

/// Reserves `len` bytes for `fd` (`fallocate`, which also sets the size): the pages exist
/// before anything maps them, so no store can fault for want of space. A filesystem that
/// cannot reserve (`EOPNOTSUPP`) gets a plain `ftruncate`.
fn reserve(fd: &OwnedFd, len: usize) -> io::Result<()> {
    match fallocate(fd, FallocateFlags::empty(), 0, len as u64) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::OPNOTSUPP) => {
            log::debug!("fallocate unsupported: the region is not reserved");
            Ok(ftruncate(fd, len as u64)?)
        }
        Err(e) => Err(e.into()),
    }
}

/// Whether `path` itself is a symbolic link.
fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Removes the file at its path on drop, unless [`RemoveOnDrop::keep`] was called: a
/// region creation that fails half-way leaves nothing behind.
struct RemoveOnDrop<'a>(Option<&'a Path>);

impl RemoveOnDrop<'_> {
    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(path) = self.0 {
            let _ = std::fs::remove_file(path);
        }
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
    fn a_hugetlb_directory_that_is_no_hugetlbfs_is_refused() {
        let name = unique("huge");
        for dir in ["/tmp", "/nonexistent-hugetlbfs"] {
            let opts = ShmOptions {
                hugetlb: Some(PathBuf::from(dir)),
            };
            let err = Workspace::create_shm(&name, 4096, &opts).expect_err("not hugetlbfs");
            assert!(
                matches!(
                    err,
                    WorkspaceError::NotHugetlbfs { .. } | WorkspaceError::Io { .. }
                ),
                "{err}"
            );
            assert!(!Path::new(dir).join(&name).exists());
            assert!(
                !shm_path(&name).exists(),
                "no fallback for a wrong directory"
            );
        }
    }

    #[test]
    fn map_names_follow_one_set_of_rules() {
        for good in ["m", "neigh0", "a.b", "x-1", "é", &"n".repeat(255)] {
            check_map_name(good).unwrap_or_else(|e| panic!("{good:?}: {e}"));
        }
        for (bad, why) in [
            ("", "empty"),
            (".", "directories"),
            ("..", "directories"),
            ("a/b", "'/'"),
            ("x\0y", "control"),
            ("a\nb", "control"),
            ("\u{1b}[31m", "control"),
            ("a\u{85}", "control"),
            ("-j", "'-'"),
            ("caf\u{fffd}", "UTF-8"),
            (&"n".repeat(256), "too long"),
        ] {
            let err = check_map_name(bad).expect_err(bad);
            assert!(err.to_string().contains(why), "{bad:?}: {err}");
            for attempt in [
                Workspace::open_shm(bad, Access::ReadOnly).map(drop),
                Workspace::create_shm(bad, 4096, &ShmOptions::default()).map(drop),
                Workspace::unlink_shm(bad),
            ] {
                assert!(
                    matches!(attempt, Err(WorkspaceError::BadName(_))),
                    "{bad:?}"
                );
            }
        }
    }

    /// A name taken by something that is not a regular file is refused, named for what it
    /// is (never "another user can write" when it is ours), without blocking on a FIFO and
    /// without replacing it.
    #[test]
    fn what_is_not_a_regular_file_is_neither_opened_nor_replaced() {
        let name = unique("fifo");
        let path = shm_path(&name);
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &path,
            FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .expect("mkfifo");
        let (tx, rx) = std::sync::mpsc::channel();
        let n = name.clone();
        std::thread::spawn(move || {
            let ro = Workspace::open_shm(&n, Access::ReadOnly).map(drop);
            let rw = Workspace::open_shm(&n, Access::ReadWrite).map(drop);
            let _ = tx.send((ro, rw));
        });
        let (ro, rw) = rx
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("opening a FIFO blocked");
        for r in [ro, rw] {
            assert!(
                matches!(
                    r,
                    Err(WorkspaceError::NotRegular {
                        kind: FileKind::Fifo,
                        ..
                    })
                ),
                "{r:?}"
            );
        }
        let err = Workspace::create_shm(&name, 4096, &ShmOptions::default()).expect_err("fifo");
        assert!(err.to_string().contains("is a FIFO"), "{err}");
        std::fs::remove_file(&path).expect("cleanup");

        std::fs::create_dir(&path).expect("mkdir");
        for err in [
            Workspace::open_shm(&name, Access::ReadWrite).expect_err("dir"),
            Workspace::create_shm(&name, 4096, &ShmOptions::default()).expect_err("dir"),
        ] {
            assert!(err.to_string().contains("is a directory"), "{err}");
        }
        std::fs::remove_dir(&path).expect("cleanup");

        std::os::unix::fs::symlink("/etc/hostname", &path).expect("symlink");
        for err in [
            Workspace::open_shm(&name, Access::ReadOnly).expect_err("symlink"),
            Workspace::create_shm(&name, 4096, &ShmOptions::default()).expect_err("symlink"),
        ] {
            assert!(err.to_string().contains("is a symbolic link"), "{err}");
        }
        assert!(is_symlink(&path), "the link was left alone");
        std::fs::remove_file(&path).expect("cleanup");
    }

    #[test]
    fn mount_paths_are_unescaped() {
        assert_eq!(
            unescape_mount_path("/mnt/huge\\040pages\\134x"),
            std::ffi::OsString::from("/mnt/huge pages\\x")
        );
        assert_eq!(
            unescape_mount_path("/a\\9"),
            std::ffi::OsString::from("/a\\9")
        );
    }
}
