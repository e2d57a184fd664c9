//! The atomic-versioned neighbor map over a raw byte region. (Being built: see issue 3.)
