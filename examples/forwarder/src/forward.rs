//! The forwarding loop: receive a batch on each port in turn, run it through the
//! [`Pipeline`], send, add the batch's counts to the shared counters; sleep in `poll`
//! only when no port had anything (or spin, with `busy_poll`). Stops when `stop` is set
//! (by SIGINT/SIGTERM), within one poll timeout.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::counters::{Counter, Counters};
use crate::pipeline::{NextHops, Pipeline};
use crate::ports::Ports;

/// How often the kernel's drop counts are read (a system call per port).
const DROPS_EVERY: Duration = Duration::from_millis(100);

/// How the loop runs.
#[derive(Clone, Copy, Debug)]
pub struct LoopConfig {
    /// Frames per receive batch (and so keys per burst lookup).
    pub batch: usize,
    /// Never sleep: poll the rings in a tight loop (lowest latency, one busy core).
    pub busy_poll: bool,
    /// Longest sleep in `poll` when idle, which bounds how long a stop request waits.
    pub idle_ms: i32,
}

/// Forwards with the MACs of `hops` until `stop` is set. Errors: a failing receive,
/// send or poll (not `EINTR`).
pub fn run(
    ports: &mut impl Ports,
    pipeline: &mut Pipeline,
    hops: NextHops<'_>,
    counters: &Counters,
    cfg: &LoopConfig,
    stop: &AtomicBool,
) -> io::Result<()> {
    let start = Instant::now();
    let n_ports = pipeline.ports().len();
    let mut verdicts = Vec::with_capacity(cfg.batch);
    let mut drops_read = start;
    while !stop.load(Ordering::Relaxed) {
        let mut got = 0;
        for p in 0..n_ports {
            let n = ports.recv(p, cfg.batch)?;
            got += n;
            if n > 0 {
                let now_ms = start.elapsed().as_millis() as u64;
                pipeline.process(hops, p, &mut ports.frames(), &mut verdicts, now_ms);
            } else {
                verdicts.clear();
            }
            // Also with nothing received: the send path pushes on what earlier batches
            // left in the transmit rings.
            ports.send(&verdicts, &mut pipeline.tally)?;
            pipeline.tally.flush(counters);
        }
        if got == 0 && !cfg.busy_poll {
            ports.wait(cfg.idle_ms)?;
        }
        if drops_read.elapsed() >= DROPS_EVERY {
            counters.set(Counter::RxDropped, ports.kernel_drops());
            drops_read = Instant::now();
        }
    }
    counters.set(Counter::RxDropped, ports.kernel_drops());
    Ok(())
}
