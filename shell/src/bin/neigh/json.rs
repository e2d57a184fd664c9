//! A JSON writer with iproute2's `json_writer.c` layout, byte for byte: compact
//! (`[{"dst":"10.0.0.1",...}]`) or pretty (four-space indent, `"key": value`, arrays as
//! `[ "A" ]`, objects in an array joined as `},{`).
//!
//! It appends to a caller's byte buffer; the caller nests calls correctly (this is an
//! emitter, not a validator).

/// Emitter state: nesting depth and the separator owed before the next value.
#[derive(Debug)]
pub struct JsonWriter {
    pretty: bool,
    depth: usize,
    /// `b','` once a value was written at this level, 0 right after an opening bracket or
    /// a name.
    sep: u8,
}

impl JsonWriter {
    /// A writer at depth 0.
    pub fn new(pretty: bool) -> Self {
        Self {
            pretty,
            depth: 0,
            sep: 0,
        }
    }

    fn eor(&mut self, out: &mut Vec<u8>) {
        if self.sep != 0 {
            out.push(self.sep);
        }
        self.sep = b',';
    }

    fn eol(&self, out: &mut Vec<u8>) {
        if self.pretty {
            out.push(b'\n');
            for _ in 0..self.depth {
                out.extend_from_slice(b"    ");
            }
        }
    }

    fn begin(&mut self, out: &mut Vec<u8>, c: u8) {
        self.eor(out);
        out.push(c);
        self.depth += 1;
        self.sep = 0;
    }

    fn end(&mut self, out: &mut Vec<u8>, c: u8) {
        self.depth = self.depth.saturating_sub(1);
        if self.sep != 0 {
            self.eol(out);
        }
        out.push(c);
        self.sep = b',';
    }

    /// `{`
    pub fn start_object(&mut self, out: &mut Vec<u8>) {
        self.begin(out, b'{');
    }

    /// `}`
    pub fn end_object(&mut self, out: &mut Vec<u8>) {
        self.end(out, b'}');
    }

    /// `[` (followed by a space when pretty).
    pub fn start_array(&mut self, out: &mut Vec<u8>) {
        self.begin(out, b'[');
        if self.pretty {
            out.push(b' ');
        }
    }

    /// `]` (preceded by a space when pretty and the array is not empty).
    pub fn end_array(&mut self, out: &mut Vec<u8>) {
        if self.pretty && self.sep != 0 {
            out.push(b' ');
        }
        self.sep = 0;
        self.end(out, b']');
    }

    /// An object member's name: `"name":` (`"name": ` when pretty) on its own line.
    pub fn name(&mut self, out: &mut Vec<u8>, name: &str) {
        self.eor(out);
        self.eol(out);
        self.sep = 0;
        push_quoted(out, name.as_bytes());
        out.push(b':');
        if self.pretty {
            out.push(b' ');
        }
    }

    /// A string value, escaped as iproute2 escapes it.
    pub fn string(&mut self, out: &mut Vec<u8>, s: &[u8]) {
        self.eor(out);
        push_quoted(out, s);
    }

    /// A string value produced by `f` (which must not write quotes or control characters,
    /// e.g. an address): avoids an intermediate buffer.
    pub fn string_with(&mut self, out: &mut Vec<u8>, f: impl FnOnce(&mut Vec<u8>)) {
        self.eor(out);
        out.push(b'"');
        f(out);
        out.push(b'"');
    }

    /// `null`
    pub fn null(&mut self, out: &mut Vec<u8>) {
        self.eor(out);
        out.extend_from_slice(b"null");
    }

    /// `true` / `false`
    pub fn boolean(&mut self, out: &mut Vec<u8>, v: bool) {
        self.eor(out);
        out.extend_from_slice(if v { b"true" } else { b"false" });
    }

    /// An unsigned number.
    pub fn uint(&mut self, out: &mut Vec<u8>, v: impl Into<u64>) {
        self.eor(out);
        let v: u64 = v.into();
        match u32::try_from(v) {
            Ok(small) => crate::addr::push_u32(out, small),
            Err(_) => out.extend_from_slice(v.to_string().as_bytes()),
        }
    }
}

/// `"s"` with iproute2's escapes: `\t \n \r \f \b \\ \"`; other bytes as they are.
fn push_quoted(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        match b {
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0x0c => out.extend_from_slice(b"\\f"),
            0x08 => out.extend_from_slice(b"\\b"),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(pretty: bool, n: usize) -> String {
        let mut out = Vec::new();
        let mut w = JsonWriter::new(pretty);
        w.start_array(&mut out);
        for i in 0..n {
            w.start_object(&mut out);
            w.name(&mut out, "dst");
            w.string(&mut out, b"10.0.0.1");
            w.name(&mut out, "router");
            w.null(&mut out);
            w.name(&mut out, "used");
            w.uint(&mut out, i as u32);
            w.name(&mut out, "state");
            w.start_array(&mut out);
            w.string(&mut out, b"STALE");
            w.end_array(&mut out);
            w.end_object(&mut out);
        }
        w.end_array(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn compact_layout() {
        assert_eq!(sample(false, 0), "[]");
        assert_eq!(
            sample(false, 2),
            r#"[{"dst":"10.0.0.1","router":null,"used":0,"state":["STALE"]},{"dst":"10.0.0.1","router":null,"used":1,"state":["STALE"]}]"#
        );
    }

    #[test]
    fn pretty_layout_matches_iproute2() {
        assert_eq!(sample(true, 0), "[ ]");
        let expected = "[ {\n        \"dst\": \"10.0.0.1\",\n        \"router\": null,\n        \"used\": 0,\n        \"state\": [ \"STALE\" ]\n    },{\n        \"dst\": \"10.0.0.1\",\n        \"router\": null,\n        \"used\": 1,\n        \"state\": [ \"STALE\" ]\n    } ]";
        assert_eq!(sample(true, 2), expected);
    }

    #[test]
    fn escapes() {
        let mut out = Vec::new();
        JsonWriter::new(false).string(&mut out, b"a\"b\\c\td");
        assert_eq!(out, br#""a\"b\\c\td""#);
    }
}
