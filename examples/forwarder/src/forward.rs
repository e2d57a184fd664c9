//! The forwarding loop: receive a batch on each port in turn, run it through the
//! [`Pipeline`], send, add the batch's counts to the shared counters; sleep in `poll`
//! only when no port had anything (or spin, with `busy_poll`). Once per turn, it checks
//! whether the mirror replaced the map, and then joins it again ([`crate::hops`]). Stops
//! when `stop` is set (by SIGINT/SIGTERM), within one poll timeout.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::counters::{Counter, Counters};
use crate::hops::HopSource;
use crate::pipeline::Pipeline;
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

/// Forwards with the MACs of `source` until `stop` is set. Once per poll turn it checks
/// whether the region it reads was superseded (one atomic load); if so, and a try is due,
/// it joins the map's name again ([`HopSource::rejoin`]) and goes on with the new views,
/// its counters and ports untouched. Errors: a failing receive, send or poll (not
/// `EINTR`), or a region whose header was overwritten.
pub fn run(
    ports: &mut impl Ports,
    pipeline: &mut Pipeline,
    source: &mut HopSource,
    counters: &Counters,
    cfg: &LoopConfig,
    stop: &AtomicBool,
) -> io::Result<()> {
    let start = Instant::now();
    let clock_ms = || start.elapsed().as_millis() as u64;
    let n_ports = pipeline.ports().len();
    let mut verdicts = Vec::with_capacity(cfg.batch);
    let mut drops_read = start;
    'views: while !stop.load(Ordering::Relaxed) {
        // The same views until the region is replaced and the name joined again.
        let hops = source.hops().map_err(io::Error::other)?;
        while !stop.load(Ordering::Relaxed) {
            if hops.is_superseded() && source.rejoin_due(clock_ms()) {
                // `hops` is not used past this point, so nothing borrows the old region
                // when a join replaces it.
                if source.rejoin(clock_ms()) {
                    pipeline.forget_requests();
                    counters.add(Counter::Rejoins, 1);
                }
                continue 'views;
            }
            let mut got = 0;
            for p in 0..n_ports {
                let n = ports.recv(p, cfg.batch)?;
                got += n;
                if n > 0 {
                    let now_ms = clock_ms();
                    pipeline.process(hops, p, &mut ports.frames(), &mut verdicts, now_ms);
                } else {
                    verdicts.clear();
                }
                // Also with nothing received: the send path pushes on what earlier
                // batches left in the transmit rings.
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
    }
    counters.set(Counter::RxDropped, ports.kernel_drops());
    Ok(())
}
