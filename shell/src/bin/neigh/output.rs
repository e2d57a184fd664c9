//! Standard output through one growing byte buffer, written in large chunks: no
//! per-entry `write(2)` (iproute2 flushes after every entry) and no formatting machinery.

use std::io::{self, Write};

/// Flush to stdout once this much is buffered.
const CHUNK: usize = 256 << 10;

/// The buffer commands render into, and stdout.
pub struct Output {
    /// Rendered bytes not written yet.
    pub buf: Vec<u8>,
    stdout: io::Stdout,
}

impl Output {
    /// An empty buffer over this process's stdout.
    pub fn new() -> Self {
        Self {
            buf: Vec::with_capacity(CHUNK + (16 << 10)),
            stdout: io::stdout(),
        }
    }

    /// Writes the buffer out when it has reached the chunk size. Errors: stdout's.
    #[inline]
    pub fn maybe_flush(&mut self) -> io::Result<()> {
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes everything buffered. Errors: stdout's.
    pub fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            let mut lock = self.stdout.lock();
            lock.write_all(&self.buf)?;
            lock.flush()?;
            self.buf.clear();
        }
        Ok(())
    }
}
