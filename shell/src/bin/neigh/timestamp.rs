//! `-t` / `-ts`: the timestamps `ip monitor` prints before each event (iproute2's
//! `print_timestamp`), in local time.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::addr::push_u32;

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Appends the header of one event for `-t` (`short` false): `Timestamp: ASCTIME USEC
/// usec` and a newline; for `-ts` (`short`): `[YYYY-MM-DDTHH:MM:SS.USEC] `.
pub fn push(out: &mut Vec<u8>, short: bool) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as libc::time_t;
    let usec = now.subsec_micros();
    // SAFETY: `tm` is plain data that localtime_r fills in; both pointers are valid for
    // the call.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut tm);
        tm
    };
    let two = |out: &mut Vec<u8>, v: i32| {
        if v < 10 {
            out.push(b'0');
        }
        push_u32(out, v.max(0) as u32);
    };
    if short {
        out.push(b'[');
        push_u32(out, (tm.tm_year + 1900).max(0) as u32);
        out.push(b'-');
        two(out, tm.tm_mon + 1);
        out.push(b'-');
        two(out, tm.tm_mday);
        out.push(b'T');
        two(out, tm.tm_hour);
        out.push(b':');
        two(out, tm.tm_min);
        out.push(b':');
        two(out, tm.tm_sec);
        out.extend_from_slice(format!(".{usec:06}] ").as_bytes());
    } else {
        // asctime's "%.3s %.3s%3d %.2d:%.2d:%.2d %d".
        let day = DAYS.get(tm.tm_wday as usize).copied().unwrap_or("???");
        let month = MONTHS.get(tm.tm_mon as usize).copied().unwrap_or("???");
        out.extend_from_slice(format!("Timestamp: {day} {month}{:3} ", tm.tm_mday).as_bytes());
        two(out, tm.tm_hour);
        out.push(b':');
        two(out, tm.tm_min);
        out.push(b':');
        two(out, tm.tm_sec);
        out.extend_from_slice(format!(" {} {usec} usec\n", tm.tm_year + 1900).as_bytes());
    }
}
