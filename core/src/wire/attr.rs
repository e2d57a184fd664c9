//! `struct rtattr` and the iterator over the attributes (TLVs) after a family header.

use zerocopy::byteorder::native_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::consts::NLA_TYPE_MASK;
use super::nlmsg::align;
use super::WireError;

/// `struct rtattr` / `struct nlattr` header, as it lies in the buffer.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    FromBytes,
    IntoBytes,
    KnownLayout,
    Immutable,
    Unaligned,
)]
#[repr(C)]
pub struct RtAttrHdr {
    /// Length including this 4-byte header, excluding padding (`rta_len`).
    pub len: U16,
    /// Type, possibly with the `NLA_F_NESTED`/`NLA_F_NET_BYTEORDER` bits (`rta_type`).
    pub kind: U16,
}

/// Size of [`RtAttrHdr`].
pub const RTA_HDRLEN: usize = 4;

/// One attribute: its type (flag bits masked off) and its payload, borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attr<'a> {
    kind: u16,
    raw_kind: u16,
    payload: &'a [u8],
}

impl<'a> Attr<'a> {
    /// The type with `NLA_F_NESTED`/`NLA_F_NET_BYTEORDER` masked off (`& 0x3fff`).
    #[inline]
    pub fn kind(&self) -> u16 {
        self.kind
    }

    /// The type as sent, flag bits included.
    pub fn raw_kind(&self) -> u16 {
        self.raw_kind
    }

    /// True when `NLA_F_NESTED` is set.
    pub fn is_nested(&self) -> bool {
        self.raw_kind & 0x8000 != 0
    }

    /// The value bytes (`rta_len - 4` of them, padding excluded).
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// The value as an array of exactly `N` bytes, or [`WireError::AttrSize`].
    #[inline]
    pub fn array<const N: usize>(&self) -> Result<[u8; N], WireError> {
        <[u8; N]>::try_from(self.payload).map_err(|_| WireError::AttrSize { kind: self.kind })
    }

    /// The value as a `u8` (exactly 1 byte), or [`WireError::AttrSize`].
    #[inline]
    pub fn u8(&self) -> Result<u8, WireError> {
        self.array::<1>().map(|[b]| b)
    }

    /// The value as a native-endian `u16` (exactly 2 bytes), or [`WireError::AttrSize`].
    #[inline]
    pub fn u16(&self) -> Result<u16, WireError> {
        self.array().map(u16::from_ne_bytes)
    }

    /// The value as a big-endian (network order) `u16`, or [`WireError::AttrSize`].
    #[inline]
    pub fn be16(&self) -> Result<u16, WireError> {
        self.array().map(u16::from_be_bytes)
    }

    /// The value as a native-endian `u32` (exactly 4 bytes), or [`WireError::AttrSize`].
    #[inline]
    pub fn u32(&self) -> Result<u32, WireError> {
        self.array().map(u32::from_ne_bytes)
    }

    /// The value as a native-endian `i32` (exactly 4 bytes), or [`WireError::AttrSize`].
    #[inline]
    pub fn i32(&self) -> Result<i32, WireError> {
        self.array().map(i32::from_ne_bytes)
    }

    /// The value as a C string without its NUL terminator (and anything after it).
    pub fn c_str(&self) -> &'a [u8] {
        match self.payload.iter().position(|&b| b == 0) {
            Some(end) => &self.payload[..end],
            None => self.payload,
        }
    }

    /// The attributes nested inside this one.
    pub fn nested(&self) -> AttrIter<'a> {
        AttrIter::new(self.payload)
    }
}

/// Iterates over the attributes in `bytes` (what follows a family header).
///
/// An `rta_len` below 4 or past the end, or 1..=3 stray bytes at the end, yields one
/// `Err(WireError::BadAttrLength)` / `Err(WireError::Truncated)` and ends the iteration:
/// each step consumes at least 4 bytes, so a zero length cannot loop. Unknown types are
/// yielded like any other.
#[derive(Clone, Debug)]
pub struct AttrIter<'a> {
    rest: &'a [u8],
}

impl<'a> AttrIter<'a> {
    /// An iterator over the attributes in `bytes`. Cost: O(1).
    #[inline]
    pub const fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }
}

impl<'a> Iterator for AttrIter<'a> {
    type Item = Result<Attr<'a>, WireError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let Ok((hdr, _)) = RtAttrHdr::ref_from_prefix(self.rest) else {
            self.rest = &[];
            return Some(Err(WireError::Truncated));
        };
        let len = hdr.len.get() as usize;
        let Some(payload) = self.rest.get(RTA_HDRLEN..len) else {
            self.rest = &[];
            return Some(Err(WireError::BadAttrLength));
        };
        let raw_kind = hdr.kind.get();
        self.rest = self.rest.get(align(len)..).unwrap_or(&[]);
        Some(Ok(Attr {
            kind: raw_kind & NLA_TYPE_MASK,
            raw_kind,
            payload,
        }))
    }
}

impl core::iter::FusedIterator for AttrIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_padded_attributes_and_masks_type() {
        // kind 3 len 5 (1 byte + 3 pad), then kind 0x8001 (nested flag) len 8.
        let bytes = [5, 0, 3, 0, 0xaa, 0, 0, 0, 8, 0, 1, 0x80, 1, 2, 3, 4];
        let attrs: Vec<_> = AttrIter::new(&bytes).map(Result::unwrap).collect();
        assert_eq!(attrs.len(), 2);
        assert_eq!((attrs[0].kind(), attrs[0].u8()), (3, Ok(0xaa)));
        assert_eq!(attrs[1].kind(), 1);
        assert!(attrs[1].is_nested());
        assert_eq!(attrs[1].u32(), Ok(u32::from_ne_bytes([1, 2, 3, 4])));
        assert_eq!(attrs[1].u16(), Err(WireError::AttrSize { kind: 1 }));
    }

    #[test]
    fn zero_short_and_overlong_lengths_end() {
        for bytes in [
            &[0u8, 0, 1, 0][..],
            &[3, 0, 1, 0],
            &[9, 0, 1, 0, 0, 0, 0, 0],
        ] {
            let mut it = AttrIter::new(bytes);
            assert_eq!(it.next(), Some(Err(WireError::BadAttrLength)));
            assert_eq!(it.next(), None);
        }
        let mut it = AttrIter::new(&[4, 0, 1, 0, 7, 7]);
        assert_eq!(it.next().unwrap().unwrap().payload(), &[] as &[u8]);
        assert_eq!(it.next(), Some(Err(WireError::Truncated)));
        assert_eq!(it.next(), None);
    }

    #[test]
    fn c_str_stops_at_nul() {
        let bytes = [8, 0, 3, 0, b'l', b'o', 0, 0];
        let a = AttrIter::new(&bytes).next().unwrap().unwrap();
        assert_eq!(a.c_str(), b"lo");
    }
}
