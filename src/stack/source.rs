//! The files a stack was read from, kept so diagnostics can point into them.
//!
//! Every span in the crate is a byte range into one of these files; [`SourceMap::location`]
//! turns it into the 1-based line and column people read.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Index of a file in a [`SourceMap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FileId(pub usize);

/// One file that was read: the path as the user would recognise it, and its text.
#[derive(Clone, Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

/// Every file read while loading a stack.
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

/// A position people read: file, 1-based line, 1-based column (in characters).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

impl SourceMap {
    pub fn add(&mut self, path: PathBuf, text: String) -> FileId {
        self.files.push(SourceFile { path, text });
        FileId(self.files.len() - 1)
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0]
    }

    pub fn text(&self, id: FileId) -> &str {
        &self.files[id.0].text
    }

    pub fn path(&self, id: FileId) -> &Path {
        &self.files[id.0].path
    }

    /// Where `text`, the value of the string token at `token`, starts in its file: `None`
    /// unless the token holds it verbatim between its quotes (no escapes, not a substituted
    /// var), so that an offset into the value is the same offset into the file.
    pub fn verbatim_start(&self, token: &Span, text: &str) -> Option<usize> {
        let raw = self.text(token.file).get(token.range.clone())?;
        let delim = ["\"\"\"", "'''", "\"", "'"]
            .into_iter()
            .find(|d| raw.len() >= 2 * d.len() && raw.starts_with(d) && raw.ends_with(d))?;
        let mut body = &raw[delim.len()..raw.len() - delim.len()];
        let mut start = token.range.start + delim.len();
        if delim.len() == 3 {
            // A newline right after the opening quotes is not part of the value.
            for newline in ["\r\n", "\n"] {
                if let Some(rest) = body.strip_prefix(newline) {
                    body = rest;
                    start += newline.len();
                    break;
                }
            }
        }
        (body == text).then_some(start)
    }

    /// The line and column of the byte `offset` in file `id` (clamped to the file).
    pub fn location(&self, id: FileId, offset: usize) -> Location {
        let file = &self.files[id.0];
        let mut offset = offset.min(file.text.len());
        while !file.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &file.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = file.text[line_start..offset].chars().count() + 1;
        Location {
            file: file.path.clone(),
            line,
            column,
        }
    }
}

/// A span in a file: the unit every diagnostic and every model value's origin is made of.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Span {
    pub file: FileId,
    pub range: Range<usize>,
}

impl Span {
    pub fn new(file: FileId, range: Range<usize>) -> Self {
        Span { file, range }
    }

    pub fn contains(&self, other: &Span) -> bool {
        self.file == other.file
            && self.range.start <= other.range.start
            && other.range.end <= self.range.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_counts_lines_and_characters() {
        let mut map = SourceMap::default();
        let id = map.add("s.toml".into(), "a = 1\nnamé = \"x\"\n".into());
        assert_eq!(map.location(id, 0).to_string(), "s.toml:1:1");
        let x = map.text(id).find("\"x").unwrap();
        // 'é' is two bytes but one column.
        assert_eq!(map.location(id, x).to_string(), "s.toml:2:8");
        assert_eq!(map.location(id, 10_000).line, 3);
    }
}
