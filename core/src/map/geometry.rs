//! Where things are: a key's home slot and fingerprint, a slot's lock, the words of a
//! lock's group and of a tag window. Pure index arithmetic over the shape in the header,
//! computed once on join; every index it returns is in bounds for the arrays of a region
//! of that shape (callers mask slot numbers with [`Geometry::mask`]).

use super::params::Layout;
use super::slot::{self, SlotKey};
use super::tags::WIDTH;

/// The shape of a joined map, as shifts and masks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    /// capacity - 1
    pub mask: usize,
    /// log2(slots per lock)
    lock_shift: u32,
    /// log2(words per lock group)
    group_shift: u32,
    /// lock_shift - group_shift: a slot number shifted right by this, masked with
    /// `group_mask`, is the index of its lock's group.
    group_at_shift: u32,
    /// Clears the low group_shift bits.
    group_mask: usize,
    /// (slots per lock) / 8 - 1: masks a slot's index / 8 to its tag word in its group.
    tag_word_mask: usize,
    pub lock_count: usize,
    pub probe_max: usize,
    seed: u64,
}

impl Geometry {
    pub fn new(layout: &Layout, seed: u64) -> Self {
        let group_words = layout.group_bytes / 8;
        let span = layout.capacity / layout.lock_count;
        Geometry {
            mask: layout.capacity - 1,
            lock_shift: span.trailing_zeros(),
            group_shift: group_words.trailing_zeros(),
            group_at_shift: span.trailing_zeros() - group_words.trailing_zeros(),
            group_mask: !(group_words - 1),
            tag_word_mask: span / 8 - 1,
            lock_count: layout.lock_count,
            probe_max: layout.probe_max,
            seed,
        }
    }

    /// Number of slots.
    #[inline(always)]
    pub fn capacity(&self) -> usize {
        self.mask + 1
    }

    /// Slots per lock.
    #[inline(always)]
    pub fn span(&self) -> usize {
        1 << self.lock_shift
    }

    /// `k`'s home slot and fingerprint (`slot::fingerprint`), from one hash.
    #[inline(always)]
    pub fn home_and_fingerprint(&self, k: &SlotKey) -> (usize, u8) {
        let h = k.hash(self.seed);
        ((h as usize) & self.mask, slot::fingerprint(h))
    }

    /// `k`'s home slot.
    #[inline]
    pub fn home(&self, k: &SlotKey) -> usize {
        (k.hash(self.seed) as usize) & self.mask
    }

    /// The lock covering slot `s`.
    #[inline(always)]
    pub fn lock_of(&self, s: usize) -> usize {
        s >> self.lock_shift
    }

    /// Slot `s`'s position within its lock's range.
    #[inline(always)]
    pub fn lock_offset(&self, s: usize) -> usize {
        s & (self.span() - 1)
    }

    /// Index in the groups array of lock `l`'s group (its version word first).
    #[inline(always)]
    pub fn group_of_lock(&self, l: usize) -> usize {
        l << self.group_shift
    }

    /// Index in the groups array of slot `s`'s lock group: that of
    /// [`group_of_lock`](Self::group_of_lock)`(lock_of(s))` in one shift and a mask.
    #[inline(always)]
    pub fn group_index(&self, s: usize) -> usize {
        (s >> self.group_at_shift) & self.group_mask
    }

    /// Index in the groups array of the word holding byte `o` of lock `l`'s tags (`o`
    /// below the span: its own slots; `span..span + WIDTH`: the copy of the next lock's
    /// first `WIDTH`).
    #[inline(always)]
    pub fn tag_index(&self, l: usize, o: usize) -> usize {
        self.group_of_lock(l) + 1 + (o >> 3)
    }

    /// Index in the groups array of the tag word holding slot `s`'s tag, `g` being `s`'s
    /// [`group_index`](Self::group_index): [`tag_index`](Self::tag_index) of its lock
    /// and offset, in a shift, a mask and two adds.
    #[inline(always)]
    pub fn tag_word_in(&self, g: usize, s: usize) -> usize {
        g + 1 + ((s >> 3) & self.tag_word_mask)
    }

    /// Number of windows a probe may read: `probe_max` slots, `WIDTH` per window.
    #[inline(always)]
    pub fn windows(&self) -> usize {
        self.probe_max.div_ceil(WIDTH)
    }
}
