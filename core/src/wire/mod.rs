//! The rtnetlink codec: zero-copy views over received bytes and builders for requests.
//!
//! (Being built: see issue 2. The flag and state newtypes below are final.)

mod ntf;
mod nud;

pub use ntf::{NtfExtFlags, NtfFlags};
pub use nud::NudState;
