//! What a batch knows of the neighbor table, to tell in advance whether a change will
//! succeed: the keys present (read with one dump, then kept up to date as the batch's own
//! changes succeed) and the kinds of change already seen to succeed on each interface.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::net::IpAddr;

use neigh::netlink::RouteSocket;
use neigh_core::wire::consts::AF_UNSPEC;
use neigh_core::wire::{DumpFilter, NtfExtFlags, NtfFlags, NudState};

use crate::cli::{ModifyArgs, ModifyKind};

/// A neighbor's identity in the kernel's table: (interface, address).
pub type Key = (u32, IpAddr);

/// The keys' hasher: a multiply-rotate mix (FxHash's) finished with splitmix64's
/// avalanche (the table indexes by the low bits, which the mix alone leaves constant for
/// addresses that differ in their last bytes). Several times cheaper than the default
/// SipHash on these small keys; the keys come from the kernel and the operator's own
/// file, so hash flooding is no concern.
#[derive(Clone, Copy, Default)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }

    fn write_u8(&mut self, v: u8) {
        self.write_u64(u64::from(v));
    }

    fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

type KeySet = HashSet<Key, BuildHasherDefault<KeyHasher>>;

/// The outcome predicted for a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It will succeed: it may go into a window with others.
    Succeeds,
    /// It may fail (or cannot be predicted): it goes alone, after the window drains.
    Alone,
}

/// A change's shape, as far as the kernel's checks that do not depend on the table go:
/// one change of a shape succeeding on an interface shows that the interface, family,
/// lladdr length, state and flags pass them.
type Shape = (u32, bool, ModifyKind, usize, u16, u8);

/// The keys of the table (non-proxy entries) and the shapes proven to pass.
#[derive(Default)]
pub struct TableModel {
    keys: Option<KeySet>,
    proven: HashSet<Shape, BuildHasherDefault<KeyHasher>>,
}

impl TableModel {
    /// Forgets the keys (another command changed the table); the next prediction dumps
    /// again.
    pub fn invalidate(&mut self) {
        self.keys = None;
    }

    /// Predicts `args` on `ifindex`, dumping the table first if it is not known.
    /// A change goes into a window only when it cannot fail in a way ip would stop at:
    /// its shape has succeeded alone before, `add` finds no entry and `change`/`del` find
    /// one, and a change that creates an entry is one the kernel does not count against
    /// gc_thresh3 (PERMANENT or extern_learn: others may meet "table overflow").
    /// Proxy entries (another table), `use` and `managed` always go alone.
    ///
    /// Errors: the dump failed. Cost: one dump the first time (O(table)), then O(1).
    pub fn predict(
        &mut self,
        sock: &mut RouteSocket,
        ifindex: u32,
        args: &ModifyArgs,
    ) -> io::Result<Outcome> {
        if args.flags.contains(NtfFlags::PROXY)
            || args.flags.contains(NtfFlags::USE)
            || args.flags_ext != NtfExtFlags::NONE
            || !self.proven.contains(&shape(ifindex, args))
        {
            return Ok(Outcome::Alone);
        }
        let present = self.keys(sock)?.contains(&(ifindex, args.addr));
        let gc_exempt =
            args.state.contains(NudState::PERMANENT) || args.flags.contains(NtfFlags::EXT_LEARNED);
        let ok = match args.kind {
            ModifyKind::Add => !present && gc_exempt,
            ModifyKind::Replace => present || gc_exempt,
            ModifyKind::Change | ModifyKind::Delete => present,
        };
        Ok(if ok {
            Outcome::Succeeds
        } else {
            Outcome::Alone
        })
    }

    /// Records that `args` on `ifindex` succeeded: the key is now present (or gone) and
    /// its shape is proven. Cost: O(1).
    pub fn applied(&mut self, ifindex: u32, args: &ModifyArgs) {
        if args.flags.contains(NtfFlags::PROXY) {
            return;
        }
        self.proven.insert(shape(ifindex, args));
        if let Some(keys) = &mut self.keys {
            if args.kind == ModifyKind::Delete {
                keys.remove(&(ifindex, args.addr));
            } else {
                keys.insert((ifindex, args.addr));
            }
        }
    }

    fn keys(&mut self, sock: &mut RouteSocket) -> io::Result<&mut KeySet> {
        if self.keys.is_none() {
            let mut keys = KeySet::default();
            sock.dump_neighbors(AF_UNSPEC, DumpFilter::default(), |m| {
                if let Some(dst) = m.dst {
                    keys.insert((m.ifindex, dst));
                }
                Ok(())
            })?;
            self.keys = Some(keys);
        }
        Ok(self.keys.get_or_insert_with(KeySet::default))
    }
}

fn shape(ifindex: u32, args: &ModifyArgs) -> Shape {
    (
        ifindex,
        args.addr.is_ipv6(),
        args.kind,
        args.lladdr.as_ref().map_or(0, Vec::len),
        args.state.0,
        args.flags.0,
    )
}
