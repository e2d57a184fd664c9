//! Tag windows: the 16 tag bytes of a probe's window in one [`Window`], and the SWAR tests
//! a reader decides a probe with (which slots are candidates, where the probe stops).
//!
//! A tag (see `slot::tag`) is `(min(distance, slot::TAG_DIST_MAX) + 1) << TAG_FP_BITS |
//! fingerprint`, 0 for an empty slot. A window of [`WIDTH`] tags is read lowest byte
//! first; each test is exact per byte (no carry or borrow crosses bytes), so it holds for
//! any bit pattern a torn read may produce.

use super::slot;

/// Slots (tags) per window: a probe reads its tags this many at a time.
pub(crate) const WIDTH: usize = 16;

/// A window of [`WIDTH`] tags, lowest byte first.
pub(crate) type Window = u128;

const _: () = assert!(core::mem::size_of::<Window>() == WIDTH);

/// Windows whose tags differ: distances up to `slot::TAG_DIST_MAX`, then one saturated.
const WINDOWS: usize = slot::TAG_DIST_MAX / WIDTH + 2;

/// `window_tags` for each distinct window.
const WINDOW_TAGS: [Window; WINDOWS] = {
    let mut t = [0; WINDOWS];
    let mut i = 0;
    while i < WINDOWS {
        let mut j = 0;
        while j < WIDTH {
            t[i] |= (slot::tag(0, WIDTH * i + j) as Window) << (8 * j);
            j += 1;
        }
        i += 1;
    }
    t
};

/// The tags (`slot::tag`, fingerprint 0) an entry would have at each of the [`WIDTH`]
/// probe distances of window `i` (distances `WIDTH * i..WIDTH * (i + 1)`), lowest byte
/// first; distances past `slot::TAG_DIST_MAX` are saturated.
#[inline]
pub(crate) fn window_tags(i: usize) -> Window {
    WINDOW_TAGS[i.min(WINDOWS - 1)]
}

/// The candidates in one window of tags `x` (tags of window `i` in `base`, from
/// [`window_tags`]) for a key of fingerprint `fp` (below `1 << TAG_FP_BITS`): the slots
/// whose tag is the key's at that distance.
///
/// Where the probe stops in it, [`stops`]: the slots that are empty or hold an entry
/// closer to its home than the probe (the Robin Hood rule, exact for distances below
/// `slot::TAG_DIST_MAX`, where a stored distance is exact; past it only entries stored
/// below the saturated value stop the probe). Since a tag is `(distance + 1) <<
/// TAG_FP_BITS | fingerprint` and an empty slot's is 0, those are the bytes of `x` below
/// the byte of `base` (unsigned).
///
/// Both look at each byte on its own. On x86-64 they are SSE2 byte compares (through
/// `safe_arch`'s safe wrappers; SSE2 is in the target's baseline), elsewhere SWAR
/// arithmetic on the 128-bit window.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
pub(crate) use sse2::{candidates, stops};
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
pub(crate) use swar::{candidates, stops};

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod sse2 {
    use super::{Mask, Window};
    use safe_arch::{
        bitor_m128i, cmp_eq_mask_i8_m128i, m128i, move_mask_i8_m128i, set_splat_i8_m128i,
        sub_saturating_u8_m128i, zeroed_m128i,
    };

    #[inline(always)]
    pub(crate) fn candidates(x: Window, base: Window, fp: u8) -> Mask {
        let want = bitor_m128i(m128i::from(base), set_splat_i8_m128i(fp as i8));
        move_mask_i8_m128i(cmp_eq_mask_i8_m128i(m128i::from(x), want)) as Mask
    }

    #[inline(always)]
    pub(crate) fn stops(x: Window, base: Window) -> Mask {
        // x < base exactly when base - x, saturated at 0, is not 0.
        let d = sub_saturating_u8_m128i(m128i::from(base), m128i::from(x));
        !(move_mask_i8_m128i(cmp_eq_mask_i8_m128i(d, zeroed_m128i())) as Mask)
    }
}

#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
mod swar {
    use super::{Mask, Window, WIDTH};

    /// Bit 7 of every byte of a window.
    const HI: Window = Window::from_ne_bytes([0x80; WIDTH]);

    #[inline(always)]
    pub(crate) fn candidates(x: Window, base: Window, fp: u8) -> Mask {
        let f = u64::from(fp).wrapping_mul(0x0101_0101_0101_0101);
        let y = x ^ (base | (Window::from(f) << 64 | Window::from(f)));
        compress(!(((y & !HI).wrapping_add(!HI)) | y) & HI)
    }

    #[inline(always)]
    pub(crate) fn stops(x: Window, base: Window) -> Mask {
        // Per byte, bit 7 of (x | 0x80) - (base & 0x7f) (no borrow, since 0x80 > 0x7f) is
        // set iff x's low 7 bits >= base's. Then x < base iff x's bit 7 is below base's,
        // or the two are equal and the low 7 bits are below.
        let low_at_least = (x | HI).wrapping_sub(base & !HI);
        compress(((!x & base) | !(x ^ base | low_at_least)) & HI)
    }

    /// Bit 7 of each byte of `m` (only bit 7s set), gathered into a [`Mask`]: per 64-bit
    /// half, one multiply moves the 8 bits (as 0/1 bytes) into the top byte.
    #[inline(always)]
    fn compress(m: Window) -> Mask {
        const GATHER: u64 = 0x0102_0408_1020_4080;
        let half = |h: u64| ((h >> 7).wrapping_mul(GATHER) >> 56) as u8;
        Mask::from(half(m as u64)) | Mask::from(half((m >> 64) as u64)) << 8
    }
}

/// One bit per slot of a window (bit `j`: slot `j`), as [`candidates`] and [`stops`]
/// return.
pub(crate) type Mask = u16;

const _: () = assert!(Mask::BITS as usize == WIDTH);

/// The bits below the lowest set bit of `m` (all bits when `m` is 0): the slots before
/// the first stop.
#[inline(always)]
pub(crate) fn before_first(m: Mask) -> Mask {
    if m != 0 {
        (m & m.wrapping_neg()) - 1
    } else {
        !0
    }
}

/// The [`WIDTH`] bytes from byte `sh / 8` on of the 24-byte little-endian triple `w`
/// (`sh` in `0..64`, a multiple of 8).
#[inline(always)]
pub(crate) fn funnel(w: [u64; 3], sh: u32) -> Window {
    let low = (Window::from(w[1]) << 64 | Window::from(w[0])) >> sh;
    // `w[2]`'s bytes enter from the top; none when `sh` is 0 (shifted out entirely).
    let high = (Window::from(w[2]) << 64) << (64 - sh);
    low | high
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map::tests::Rng;

    /// The per-byte SWAR of `candidates` and `stops` against byte-by-byte comparisons, for
    /// windows of real tags (empty, or any fingerprint at any distance, saturated ones
    /// included) and of arbitrary bytes (a torn read may see anything): a carry or borrow
    /// crossing bytes, or a wrong bit of the tag format, shows up as a differing byte.
    #[test]
    fn window_tests_agree_with_byte_by_byte_comparisons() {
        // Plain arithmetic: miri checks it for overflow only, on a few rounds.
        let rounds = if cfg!(miri) { 20 } else { 20_000 };
        let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
        for round in 0..rounds {
            let x = if round % 2 == 0 {
                (0..WIDTH).fold(0, |acc: Window, j| {
                    let r = rng.next();
                    let t = if r % 5 == 0 {
                        0
                    } else {
                        slot::tag((r >> 8) as u8, (r >> 16) as usize % 48)
                    };
                    acc | Window::from(t) << (8 * j)
                })
            } else {
                Window::from(rng.next()) << 64 | Window::from(rng.next())
            };
            for i in 0..WINDOWS + 1 {
                let base = window_tags(i);
                for fp in 0..1u8 << slot::TAG_FP_BITS {
                    let cand = candidates(x, base, fp);
                    let stop = stops(x, base);
                    assert_eq!(cand, swar::candidates(x, base, fp), "x {x:#x}");
                    assert_eq!(stop, swar::stops(x, base), "x {x:#x}");
                    for j in 0..WIDTH {
                        let t = (x >> (8 * j)) as u8;
                        let d = WIDTH * i + j;
                        let bit = |m: Mask| m >> j & 1 != 0;
                        assert_eq!(bit(cand), t == slot::tag(fp, d), "x {x:#x} i {i} j {j}");
                        let stored = usize::from(t >> slot::TAG_FP_BITS);
                        let probe = d.min(slot::TAG_DIST_MAX) + 1;
                        assert_eq!(bit(stop), stored < probe, "x {x:#x} i {i} j {j}");
                    }
                }
            }
        }
    }

    #[test]
    fn funnel_takes_sixteen_bytes_at_any_byte_offset() {
        let bytes: [u8; 24] = core::array::from_fn(|i| i as u8 + 1);
        let w: [u64; 3] = core::array::from_fn(|i| {
            u64::from_le_bytes(bytes[8 * i..8 * i + 8].try_into().unwrap())
        });
        for b in 0..8 {
            let want = Window::from_le_bytes(bytes[b..b + WIDTH].try_into().unwrap());
            assert_eq!(funnel(w, 8 * b as u32), want, "offset {b}");
        }
    }
}
