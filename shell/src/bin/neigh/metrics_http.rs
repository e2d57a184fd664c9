//! `neigh mirror --metrics [ADDR:]PORT`: the map's figures at `GET /metrics` over HTTP,
//! in the Prometheus text format (`prometheus.rs`), for a Prometheus server to scrape.
//!
//! A minimal HTTP/1.x server on std: it reads the map the way `neigh map stat` does (its
//! own read-only mapping of the region), never the mirror's loop, so a scrape cannot
//! slow or block the mirror, and a hung mirror still shows in its stale heartbeat.
//!
//! Bounds: [`WORKERS`] threads accept and serve one connection each at a time (more
//! clients wait in the listen backlog); a request's head may be at most [`MAX_REQUEST`]
//! bytes (else `431` and the connection is closed) and must arrive within
//! [`IO_TIMEOUT`] in all (else the connection is closed unanswered); every response closes
//! its connection. Only `GET /metrics` is served
//! (`404` for other paths, `405` for other methods).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use log::{info, warn};
use neigh::mirror::{MirrorStats, Region};
use neigh::workspace::Access;

use crate::map::stat_fields;
use crate::prometheus::{render, CONTENT_TYPE};

/// Threads serving connections: the most served at once.
pub const WORKERS: usize = 4;
/// Largest request head (request line and headers) accepted, in bytes.
pub const MAX_REQUEST: usize = 8 << 10;
/// Most bytes read and dropped after refusing an oversized request.
const MAX_DISCARD: usize = 64 << 10;
/// Longest wait for a request's head, or for a response to be taken.
pub const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// Binds the listening socket (before the mirror starts, so a taken port fails fast).
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    TcpListener::bind(addr)
}

/// Starts [`WORKERS`] threads serving `/metrics` for map `name` on `listener`. They run
/// until the process exits. Errors: the region cannot be joined, or a thread cannot
/// start.
pub fn serve(listener: TcpListener, name: &str) -> io::Result<()> {
    let local = listener.local_addr()?;
    for i in 0..WORKERS {
        let listener = listener.try_clone()?;
        let region = Region::open(name, Access::ReadOnly)
            .map_err(|e| io::Error::other(format!("join map {name}: {e}")))?;
        let name = name.to_owned();
        std::thread::Builder::new()
            .name(format!("metrics-{i}"))
            .spawn(move || worker(&listener, &region, &name))?;
    }
    info!("serving metrics at http://{local}/metrics");
    Ok(())
}

fn worker(listener: &TcpListener, region: &Region, name: &str) {
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                if let Err(e) = handle(stream, region, name) {
                    log::debug!("metrics connection: {e}");
                }
            }
            Err(e) => {
                // Out of descriptors or memory: back off instead of spinning.
                warn!("metrics: accept: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// A response: status line, and the body with its content type.
struct Response {
    status: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
}

impl Response {
    fn text(status: &'static str, body: &str) -> Self {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: format!("{body}\n").into_bytes(),
        }
    }
}

fn handle(mut stream: TcpStream, region: &Region, name: &str) -> io::Result<()> {
    // One deadline for the whole head, however slowly it trickles in.
    let deadline = Instant::now() + IO_TIMEOUT;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut buf = vec![0u8; MAX_REQUEST];
    let mut len = 0;
    let head_end = loop {
        if let Some(end) = find(&buf[..len], b"\r\n\r\n") {
            break Some(end);
        }
        if len == buf.len() {
            break None;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut buf[len..])? {
            0 => return Ok(()),
            n => len += n,
        }
    };
    let response = match head_end {
        None => Response::text(
            "431 Request Header Fields Too Large",
            "request head too large",
        ),
        Some(end) => route(&buf[..end], region, name),
    };
    let head = format!(
        "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        response.status,
        response.content_type,
        response.body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(&response.body)?;
    stream.flush()?;
    if head_end.is_none() {
        // Let the client read the refusal: closing with unread data would reset the
        // connection and could destroy the response before the client reads it. Discard
        // what follows, up to [`MAX_DISCARD`] bytes or the client's end.
        let _ = stream.shutdown(Shutdown::Write);
        let mut discarded = 0;
        while discarded < MAX_DISCARD {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => discarded += n,
            }
        }
    }
    Ok(())
}

/// The response to a request whose head is `head` (up to the blank line).
fn route(head: &[u8], region: &Region, name: &str) -> Response {
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET", "/metrics") => match region.reader() {
            Ok(reader) => {
                let stats = MirrorStats::read(&reader);
                let mut body = Vec::with_capacity(8 << 10);
                let path = region.workspace_path();
                render(&mut body, name, &path, &stats, &stat_fields(region, &stats));
                Response {
                    status: "200 OK",
                    content_type: CONTENT_TYPE,
                    body,
                }
            }
            Err(e) => Response::text("500 Internal Server Error", &e.to_string()),
        },
        (_, "/metrics") => Response::text("405 Method Not Allowed", "only GET"),
        _ => Response::text("404 Not Found", "see /metrics"),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
