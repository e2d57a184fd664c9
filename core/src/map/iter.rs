//! Iteration over a map's entries, slot by slot.

use super::error::Busy;
use super::reader::MapReader;
use super::slot;
use super::MapEntry;

/// Iterator returned by [`MapReader::iter`]: every occupied slot once, in slot order, each
/// read consistently (or `Err(Busy)` if its lock stayed held). See `iter` for what a
/// concurrent writer may cause.
#[derive(Debug)]
pub struct Iter<'a> {
    map: MapReader<'a>,
    next: usize,
}

impl<'a> Iter<'a> {
    pub(crate) fn new(map: MapReader<'a>) -> Self {
        Iter { map, next: 0 }
    }
}

impl Iterator for Iter<'_> {
    type Item = Result<MapEntry, Busy>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.next < self.map.capacity() {
            let s = self.next;
            self.next += 1;
            match self.map.read_slot(s) {
                Err(Busy) => return Some(Err(Busy)),
                Ok(w) if slot::is_occupied(w[2]) => return Some(Ok(slot::decode(w))),
                Ok(_) => {}
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.map.capacity() - self.next))
    }
}
