//! ip's batch file grammar: iproute2's `getcmdline` (one command per line, `#` starts a
//! comment, a backslash before the newline continues the line) and `makeargs` (words
//! split on blanks; a word that starts with `'` or `"` runs to the same quote, blanks
//! included).

use std::io::{self, BufRead};

/// iproute2's `MAX_ARGS`: a line may have at most this many words, minus one.
const MAX_ARGS: usize = 512;

/// The blanks `makeargs` splits on.
const BLANKS: &[u8] = b" \t\r\n";

/// Reads the commands of a batch, counting lines as ip does (`cmdlineno`).
pub struct LineReader<R> {
    input: R,
    /// The number of the last physical line read (1-based).
    pub line_no: u32,
}

/// Why a line could not be split into words: ip prints the text and exits 1.
#[derive(Debug, PartialEq, Eq)]
pub struct WordsError(pub &'static str);

impl<R: BufRead> LineReader<R> {
    pub fn new(input: R) -> Self {
        Self { input, line_no: 0 }
    }

    /// The next logical line (continuations joined, comments cut), or `None` at the end.
    /// A continuation missing at the end of input ends the batch with "Missing
    /// continuation line" on stderr, as ip does. Errors: read errors.
    pub fn next_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut line = Vec::new();
        if self.input.read_until(b'\n', &mut line)? == 0 {
            return Ok(None);
        }
        self.line_no += 1;
        cut_comment(&mut line);
        while let Some(at) = continuation(&line) {
            let mut more = Vec::new();
            if self.input.read_until(b'\n', &mut more)? == 0 {
                eprintln!("Missing continuation line");
                return Ok(None);
            }
            self.line_no += 1;
            line.truncate(at);
            cut_comment(&mut more);
            line.extend_from_slice(&more);
        }
        Ok(Some(line))
    }
}

/// `strchr(line, '#')` then cut there.
fn cut_comment(line: &mut Vec<u8>) {
    if let Some(i) = line.iter().position(|&b| b == b'#') {
        line.truncate(i);
    }
}

/// Where a backslash-newline is (`strstr(line, "\\\n")`).
fn continuation(line: &[u8]) -> Option<usize> {
    line.windows(2).position(|w| w == b"\\\n")
}

/// iproute2's `makeargs`: the words of `line`. A quoted word ends at its closing quote,
/// which also ends the word (`"a b"c` is two words). Errors: an unterminated quote, more
/// than `MAX_ARGS - 1` words.
pub fn words(line: &[u8]) -> Result<Vec<String>, WordsError> {
    let mut out = Vec::new();
    let mut i = 0;
    let n = line.len();
    while i < n {
        while i < n && BLANKS.contains(&line[i]) {
            i += 1;
        }
        if i >= n {
            break;
        }
        if out.len() >= MAX_ARGS - 1 {
            return Err(WordsError("Too many arguments to command"));
        }
        let end = if line[i] == b'\'' || line[i] == b'"' {
            let quote = line[i];
            i += 1;
            let close = line[i..]
                .iter()
                .position(|&b| b == quote)
                .ok_or(WordsError("Unterminated quoted string"))?;
            i + close
        } else {
            line[i..]
                .iter()
                .position(|b| BLANKS.contains(b))
                .map_or(n, |p| i + p)
        };
        out.push(String::from_utf8_lossy(&line[i..end]).into_owned());
        // The byte at `end` (blank or quote) separates this word from the next.
        i = end + 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_lines(text: &str) -> Vec<(u32, String)> {
        let mut r = LineReader::new(text.as_bytes());
        let mut v = Vec::new();
        while let Some(l) = r.next_line().unwrap() {
            v.push((r.line_no, String::from_utf8(l).unwrap()));
        }
        v
    }

    #[test]
    fn comments_and_continuations_as_getcmdline() {
        let v = all_lines(
            "neigh show # all\n\n# only a comment\nneigh add 10.0.0.1 \\\n  dev eth0 # x\nlast",
        );
        assert_eq!(
            v,
            [
                (1, "neigh show ".to_owned()),
                (2, "\n".to_owned()),
                (3, String::new()),
                (5, "neigh add 10.0.0.1   dev eth0 ".to_owned()),
                (6, "last".to_owned()),
            ]
        );
        // A comment hides a backslash; a missing continuation ends the input.
        assert_eq!(all_lines("a # \\\nb\n").len(), 2);
        assert_eq!(all_lines("a \\\n"), []);
    }

    #[test]
    fn words_as_makeargs() {
        let w = |s: &str| words(s.as_bytes());
        assert_eq!(w("  neigh\tshow \r\n").unwrap(), ["neigh", "show"]);
        assert_eq!(
            w("neigh add 'a b' \"c'd\" e").unwrap(),
            ["neigh", "add", "a b", "c'd", "e"]
        );
        assert_eq!(w("\"a b\"c").unwrap(), ["a b", "c"]);
        assert_eq!(w("''").unwrap(), [""]);
        assert!(w("").unwrap().is_empty());
        assert_eq!(
            w("neigh 'open").unwrap_err(),
            WordsError("Unterminated quoted string")
        );
        let many = "x ".repeat(MAX_ARGS - 1);
        assert_eq!(w(&many).unwrap().len(), MAX_ARGS - 1);
        let too_many = "x ".repeat(MAX_ARGS);
        assert_eq!(
            w(&too_many).unwrap_err(),
            WordsError("Too many arguments to command")
        );
    }
}
