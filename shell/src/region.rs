//! The shared region as this process maps it: a [`Workspace`] holding a map followed by a
//! request ring (the layout is `neigh_core::region`'s), created and formatted by the
//! mirror, joined by readers. A [`Region`] owns the mapping; the views it hands out
//! ([`Region::view`], and the map and ring from it) borrow it, so none outlives the
//! mapping.

use std::fmt;
use std::path::Path;

use neigh_core::map::{MapError, MapParams, MapReader, NeighMap, MIN_REGION_BYTES};
use neigh_core::region::{region_footprint, RegionView};
use neigh_core::ring::{RequestRing, RingError, RingStats};

use crate::mirror::{MirrorState, MirrorStats};
use crate::workspace::{region_paths, Access, Backing, ShmOptions, Workspace, WorkspaceError};

/// Why a region could not be created or joined.
#[derive(Debug)]
pub enum RegionError {
    /// Allocating, opening or mapping the memory failed (missing, too small, not ours...).
    Workspace(WorkspaceError),
    /// The map part is not a valid map (not formatted yet, another layout version...).
    Map(MapError),
    /// The bytes after the map are not a valid request ring.
    Ring(RingError),
}

impl fmt::Display for RegionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Workspace(e) => e.fmt(f),
            Self::Map(MapError::BadMagic { found: 0 }) => {
                f.write_str("region is not formatted yet (is the mirror starting?)")
            }
            Self::Map(e) => write!(f, "not a usable neighbor map: {e}"),
            Self::Ring(e) => write!(f, "bad request ring after the map: {e}"),
        }
    }
}

impl std::error::Error for RegionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Workspace(e) => Some(e),
            Self::Map(e) => Some(e),
            Self::Ring(e) => Some(e),
        }
    }
}

impl From<WorkspaceError> for RegionError {
    fn from(e: WorkspaceError) -> Self {
        Self::Workspace(e)
    }
}
impl From<MapError> for RegionError {
    fn from(e: MapError) -> Self {
        Self::Map(e)
    }
}
impl From<RingError> for RegionError {
    fn from(e: RingError) -> Self {
        Self::Ring(e)
    }
}
impl From<neigh_core::region::RegionError> for RegionError {
    fn from(e: neigh_core::region::RegionError) -> Self {
        match e {
            neigh_core::region::RegionError::Map(e) => Self::Map(e),
            neigh_core::region::RegionError::Ring(e) => Self::Ring(e),
        }
    }
}

/// A mapped region holding a validated map and, if present, a request ring.
///
/// Created (and formatted) by [`Region::create`] (the mirror) or joined by
/// [`Region::open`] (readers). The views it hands out borrow it.
#[derive(Debug)]
pub struct Region {
    ws: Workspace,
}

impl Region {
    /// Allocates a region for a map of `params` and a ring of `ring_cells` cells (0: no
    /// ring): named `/dev/shm/NAME` (replacing an old one of ours, see
    /// [`Workspace::create_shm`]) or anonymous (`name` None), then formats it (the ring
    /// first, the map last, so that a reader that sees the map's magic also sees the ring).
    ///
    /// Errors: bad parameters or name, a region owned by someone else, mmap failures.
    /// Cost: O(region size) (the formatting touches every page).
    pub fn create(
        name: Option<&str>,
        params: &MapParams,
        ring_cells: usize,
        opts: &ShmOptions,
    ) -> Result<Self, RegionError> {
        let total = region_footprint(params, ring_cells)?;
        let ws = match name {
            Some(n) => Workspace::create_shm(n, total, opts)?,
            None => Workspace::anonymous(total)?,
        };
        // SAFETY: as in `view`: `ws` maps `ws.len()` bytes read-write (both constructors
        // map read-write) and the view does not outlive this function.
        let formatted =
            unsafe { RegionView::format_raw(ws.as_mut_ptr(), ws.len(), params, ring_cells) };
        if let Err(e) = formatted {
            if let (Backing::File(path), Some(_)) = (ws.backing(), name) {
                let _ = std::fs::remove_file(path);
            }
            return Err(e.into());
        }
        Ok(Region { ws })
    }

    /// Joins the named region `NAME` with `access` and validates the map (magic, layout
    /// version, sizes) and the ring after it, if there is one.
    ///
    /// A region of that name may be in `/dev/shm` and in a hugetlbfs
    /// ([`region_paths`]): a stopped mirror's leftover in one, a live mirror's map in the
    /// other. The one with a live writer wins (running, fresh heartbeat); among several or
    /// none, the one with the latest heartbeat.
    ///
    /// Errors: [`RegionError::Workspace`] (missing, not ours, not a regular file, ...),
    /// [`RegionError::Map`] (not formatted, another version, corrupted; an empty or short
    /// file as `RegionTooSmall`), [`RegionError::Ring`]. When no candidate can be joined,
    /// the error of the first one that exists. O(candidates): an `open`, `fstat` and
    /// `mmap` each.
    pub fn open(name: &str, access: Access) -> Result<Self, RegionError> {
        let mut best: Option<(Region, (bool, u64))> = None;
        let mut first_err = None;
        for path in region_paths(name)? {
            match Self::open_path(&path, access) {
                Ok(region) => {
                    let rank = region.liveness();
                    if best.as_ref().is_none_or(|(_, r)| rank > *r) {
                        best = Some((region, rank));
                    }
                }
                Err(RegionError::Workspace(WorkspaceError::Missing(_))) => {}
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        match (best, first_err) {
            (Some((region, _)), _) => Ok(region),
            (None, Some(e)) => Err(e),
            (None, None) => Err(WorkspaceError::Missing(crate::workspace::shm_path(name)).into()),
        }
    }

    /// Joins the region in the file at `path`; see [`Region::open`].
    pub fn open_path(path: &Path, access: Access) -> Result<Self, RegionError> {
        let ws = Workspace::open_file(path, access).map_err(|e| match e {
            // The file exists but cannot hold even the map's header: say so in the
            // map's terms, not the mapping's.
            WorkspaceError::TooSmall { len, .. } => RegionError::Map(MapError::RegionTooSmall {
                needed: MIN_REGION_BYTES,
                len: len as usize,
            }),
            e => e.into(),
        })?;
        let region = Region { ws };
        region.view()?;
        Ok(region)
    }

    /// How alive the region's writer looks, for choosing among regions of one name: a
    /// live writer (not stopped, heartbeat fresh) first, then the latest heartbeat. Not
    /// by pid: a reader may be in another pid namespace than the writer, where its pid
    /// says nothing.
    fn liveness(&self) -> (bool, u64) {
        let Ok(reader) = self.reader() else {
            return (false, 0);
        };
        let s = MirrorStats::read(&reader);
        (s.state != MirrorState::Stopped && !s.stale, s.map.heartbeat)
    }

    /// Joins the region in the file at `path` read-write for a mirror that may take it
    /// over: validates it as [`open`](Self::open) does, but accepts a poisoned map (the
    /// new owner repairs it first; see [`view_to_repair`](Self::view_to_repair)).
    ///
    /// Errors: as [`open`](Self::open). O(1).
    pub fn open_to_take_over(path: &std::path::Path) -> Result<Self, RegionError> {
        let region = Region {
            ws: Workspace::open_file(path, Access::ReadWrite)?,
        };
        region.view_to_repair()?;
        Ok(region)
    }

    /// The view of a region joined by [`open_to_take_over`](Self::open_to_take_over), for
    /// the new owner's repair: as [`view`](Self::view), poisoned or not. O(1).
    ///
    /// Errors: the region is read-only or its header does not describe a map.
    pub fn view_to_repair(&self) -> Result<RegionView<'_>, RegionError> {
        if self.ws.access() != Access::ReadWrite {
            return Err(RegionError::Workspace(WorkspaceError::Io {
                path: self.workspace_path().into(),
                op: "repair",
                err: std::io::Error::from_raw_os_error(libc::EROFS),
            }));
        }
        // SAFETY: as in `view`; the mapping is read-write (checked above).
        Ok(unsafe { RegionView::join_raw_to_repair(self.ws.as_mut_ptr(), self.ws.len())? })
    }

    /// The map and ring, validated again (the header is re-read: O(1), a few loads). The
    /// view borrows `self`, so it cannot outlive the mapping.
    ///
    /// Errors: the header was overwritten since the region was joined (corruption).
    pub fn view(&self) -> Result<RegionView<'_>, RegionError> {
        // SAFETY: `ws` maps `ws.len()` bytes, page-aligned, with `ws.access()`'s
        // protection, for as long as `ws` (owned by `self`) lives, which the view's borrow
        // of `self` outlasts; the view stores only with `Access::ReadWrite`. Every access
        // to the mapping, in this and other processes, goes through the map's and ring's
        // atomics (this crate hands the memory to nothing else).
        Ok(unsafe { RegionView::join_raw(self.ws.as_mut_ptr(), self.ws.len(), self.ws.access())? })
    }

    /// A lock-free reader of the map. O(1) (re-validates the header).
    ///
    /// Errors: the header was overwritten since the region was joined (corruption).
    pub fn reader(&self) -> Result<MapReader<'_>, RegionError> {
        Ok(self.view()?.reader())
    }

    /// The map for writing; `None` when the region was joined read-only. O(1).
    pub fn writer(&self) -> Option<Result<NeighMap<'_>, RegionError>> {
        if self.ws.access() != Access::ReadWrite {
            return None;
        }
        match self.view() {
            Ok(v) => v.writer().map(Ok),
            Err(e) => Some(Err(e)),
        }
    }

    /// The request ring, to post resolution requests (producers) or drain them (the
    /// mirror). `None` when the region has no ring or was joined read-only (posting
    /// writes to the region). O(1).
    pub fn ring(&self) -> Option<Result<RequestRing<'_>, RegionError>> {
        if self.ws.access() != Access::ReadWrite {
            return None;
        }
        match self.view() {
            Ok(v) => v.ring().map(Ok),
            Err(e) => Some(Err(e)),
        }
    }

    /// Ring counters, readable on a read-only join too; `None` without a ring. O(1).
    pub fn ring_stats(&self) -> Option<RingStats> {
        self.view().ok()?.ring_stats()
    }

    /// Where the memory comes from, for messages: the file path or `<anonymous>`.
    pub fn workspace_path(&self) -> String {
        match self.ws.backing() {
            Backing::File(p) => p.display().to_string(),
            Backing::Anonymous => "<anonymous>".to_owned(),
        }
    }

    /// The underlying memory.
    pub fn workspace(&self) -> &Workspace {
        &self.ws
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use neigh_core::ring::ResolveRequest;
    use std::net::{IpAddr, Ipv4Addr};

    #[test]
    fn named_region_round_trip_map_and_ring() {
        let name = format!("neigh-test-region-{}", std::process::id());
        let params = MapParams::for_entries(100);
        let created =
            Region::create(Some(&name), &params, 64, &ShmOptions::default()).expect("create");
        let ro = Region::open(&name, Access::ReadOnly).expect("join read-only");
        assert!(ro.writer().is_none());
        assert!(ro.ring().is_none(), "posting needs a read-write join");
        assert_eq!(ro.ring_stats().map(|s| s.cells), Some(64));
        let rw = Region::open(&name, Access::ReadWrite).expect("join read-write");
        let q = ResolveRequest {
            ifindex: 3,
            addr: IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)),
        };
        rw.ring()
            .expect("ring")
            .expect("valid")
            .post(&q)
            .expect("post");
        let mut got = Vec::new();
        created
            .ring()
            .expect("ring")
            .expect("valid")
            .drain(10, |r| got.push(r));
        assert_eq!(got, vec![q]);
        assert_eq!(ro.ring_stats().map(|s| s.posted), Some(1));
        assert_eq!(ro.reader().expect("map").capacity(), params.capacity);
        drop((created, ro, rw));
        crate::workspace::Workspace::unlink_shm(&name).expect("unlink");
    }

    #[test]
    fn map_only_and_garbage_regions() {
        let params = MapParams::for_entries(10);
        let r = Region::create(None, &params, 0, &ShmOptions::default()).expect("anon");
        assert!(r.ring().is_none());
        assert!(r.ring_stats().is_none());
        let name = format!("neigh-test-region-garbage-{}", std::process::id());
        let ws = Workspace::create_shm(&name, 8192, &ShmOptions::default()).expect("create");
        let err = Region::open(&name, Access::ReadOnly).expect_err("unformatted");
        assert!(
            matches!(err, RegionError::Map(MapError::BadMagic { found: 0 })),
            "{err}"
        );
        assert!(err.to_string().contains("not formatted"));
        drop(ws);
        Workspace::unlink_shm(&name).expect("unlink");
    }
}
