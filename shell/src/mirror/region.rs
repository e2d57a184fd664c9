//! The mirror's shared region: one [`Workspace`] holding a map followed by a request ring
//! (see `neigh_core::ring` for the combined layout), created by the mirror and joined by
//! readers.

use std::fmt;
use std::sync::atomic::AtomicU64;

use neigh_core::map::{footprint, MapError, MapParams, MapReader, NeighMap};
use neigh_core::ring::{ring_footprint, RequestRing, RingError};

use crate::workspace::{Access, ShmOptions, Workspace, WorkspaceError};

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

/// Bytes a region with a map of `params` and a ring of `ring_cells` cells (0: no ring)
/// takes. Errors: invalid parameters. O(1).
pub fn region_bytes(params: &MapParams, ring_cells: usize) -> Result<usize, RegionError> {
    let map = footprint(params)?;
    let ring = if ring_cells == 0 {
        0
    } else {
        ring_footprint(ring_cells)?
    };
    Ok(map + ring)
}

/// A mapped region holding a validated map and, if present, a request ring.
///
/// Created (and formatted) by [`Region::create`] (the mirror) or joined by
/// [`Region::open`] (readers). The views it hands out borrow it.
pub struct Region {
    // Declared before `ws` only for readability: the views are plain slices into `ws`'s
    // mapping, which stays mapped for as long as `ws` (and so `self`) lives.
    words: &'static [AtomicU64],
    map_words: usize,
    ring_words: usize,
    ws: Workspace,
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Region")
            .field("bytes", &self.ws.len())
            .field("map_bytes", &(self.map_words * 8))
            .field("ring_bytes", &(self.ring_words * 8))
            .field("backing", self.ws.backing())
            .finish()
    }
}

/// Views a workspace's whole mapping as words.
///
/// The returned slice claims `'static` but must not outlive `ws`: [`Region`] keeps both
/// together and only hands out views borrowing itself.
fn words_of(ws: &Workspace) -> &'static [AtomicU64] {
    let n = ws.len() / 8;
    // SAFETY: the mapping is page-aligned (so aligned for AtomicU64), valid for `len`
    // bytes while `ws` lives, and every access to it, in this and other processes, goes
    // through atomics (the map and ring types). Atomic loads from a PROT_READ mapping are
    // fine on x86-64/aarch64 for 8-byte atomics; a read-only Region never stores (it
    // hands out no writer and no ring). The 'static lifetime never escapes `Region`,
    // which owns `ws`.
    unsafe { std::slice::from_raw_parts(ws.as_mut_ptr().cast::<AtomicU64>(), n) }
}

impl Region {
    /// Allocates a region for a map of `params` and a ring of `ring_cells` cells (0: no
    /// ring): named `/dev/shm/NAME` (replacing an old one of ours, see
    /// [`Workspace::create_shm`]) or anonymous (`name` None), then formats the ring first
    /// and the map last, so that a reader that sees the map's magic also sees the ring.
    ///
    /// Errors: bad parameters or name, a region owned by someone else, mmap failures.
    /// Cost: O(region size) (the formatting touches every page).
    pub fn create(
        name: Option<&str>,
        params: &MapParams,
        ring_cells: usize,
        opts: &ShmOptions,
    ) -> Result<Self, RegionError> {
        let map_bytes = footprint(params)?;
        let total = region_bytes(params, ring_cells)?;
        let ws = match name {
            Some(n) => Workspace::create_shm(n, total, opts)?,
            None => Workspace::anonymous(total)?,
        };
        let words = words_of(&ws);
        let map_words = map_bytes / 8;
        let ring_words = (total - map_bytes) / 8;
        if ring_cells > 0 {
            RequestRing::format(&words[map_words..], ring_cells, map_bytes as u64)?;
        }
        NeighMap::format_words(&words[..map_words], params)?;
        Ok(Region {
            words,
            map_words,
            ring_words,
            ws,
        })
    }

    /// Joins the named region `NAME` with `access` and validates the map (magic, layout
    /// version, sizes) and the ring after it, if the region is longer than the map.
    ///
    /// Errors: [`RegionError::Workspace`] (missing, not ours, ...), [`RegionError::Map`]
    /// (not formatted, another version, corrupted), [`RegionError::Ring`]. O(1).
    pub fn open(name: &str, access: Access) -> Result<Self, RegionError> {
        let ws = Workspace::open_shm(name, access)?;
        let words = words_of(&ws);
        let reader = MapReader::join(words)?;
        let s = reader.stats();
        let params = MapParams {
            capacity: s.capacity as usize,
            lock_count: s.lock_count as usize,
            probe_max: s.probe_max as usize,
            seed: s.seed,
        };
        let map_bytes = footprint(&params)?;
        let map_words = map_bytes / 8;
        let ring_words = if words.len() > map_words {
            let ring = RequestRing::join(&words[map_words..], map_bytes as u64)?;
            ring_footprint(ring.capacity())? / 8
        } else {
            0
        };
        Ok(Region {
            words,
            map_words,
            ring_words,
            ws,
        })
    }

    /// A lock-free reader of the map. O(1) (re-validates the header).
    ///
    /// Errors: the header was overwritten since the region was joined (corruption).
    pub fn reader(&self) -> Result<MapReader<'_>, MapError> {
        MapReader::join(&self.words[..self.map_words])
    }

    /// The map for writing; `None` when the region was joined read-only. O(1).
    pub fn writer(&self) -> Option<Result<NeighMap<'_>, MapError>> {
        (self.ws.access() == Access::ReadWrite)
            .then(|| NeighMap::join_words(&self.words[..self.map_words]))
    }

    /// The request ring, to post resolution requests (producers) or drain them (the
    /// mirror). `None` when the region has no ring or was joined read-only (posting
    /// writes to the region). O(1).
    pub fn ring(&self) -> Option<Result<RequestRing<'_>, RingError>> {
        if self.ring_words == 0 || self.ws.access() != Access::ReadWrite {
            return None;
        }
        Some(RequestRing::join(
            &self.words[self.map_words..self.map_words + self.ring_words],
            (self.map_words * 8) as u64,
        ))
    }

    /// Ring counters, readable on a read-only join too; `None` without a ring. O(1).
    pub fn ring_stats(&self) -> Option<neigh_core::ring::RingStats> {
        if self.ring_words == 0 {
            return None;
        }
        RequestRing::join(
            &self.words[self.map_words..self.map_words + self.ring_words],
            (self.map_words * 8) as u64,
        )
        .ok()
        .map(|r| r.stats())
    }

    /// Where the memory comes from, for messages: the file path or `<anonymous>`.
    pub fn workspace_path(&self) -> String {
        match self.ws.backing() {
            crate::workspace::Backing::File(p) => p.display().to_string(),
            crate::workspace::Backing::Anonymous => "<anonymous>".to_owned(),
        }
    }

    /// The underlying memory.
    pub fn workspace(&self) -> &Workspace {
        &self.ws
    }

    /// Words of the map part, for the mirror's long-lived writer (crate-private: the
    /// `'static` must not escape the owner of this region).
    pub(crate) fn static_words(&self) -> (&'static [AtomicU64], &'static [AtomicU64]) {
        (
            &self.words[..self.map_words],
            &self.words[self.map_words..self.map_words + self.ring_words],
        )
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
