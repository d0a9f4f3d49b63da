//! A loaded config file and the byte-offset to line:column mapping that turns parser spans into locations.

use std::ops::Range;

use crate::model::Location;

/// One `*.hcl` file's text and where it came from.
pub struct SourceFile {
    pub display_path: String,
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(display_path: impl Into<String>, text: impl Into<String>) -> SourceFile {
        let text = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceFile {
            display_path: display_path.into(),
            text,
            line_starts,
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn location(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let start = self.line_starts[line - 1];
        let column = self
            .text
            .get(start..offset)
            .map_or(1, |s| s.chars().count() + 1);
        Location {
            file: self.display_path.clone(),
            line,
            column,
        }
    }

    pub fn span_location(&self, span: Option<Range<usize>>) -> Location {
        self.location(span.map_or(0, |s| s.start))
    }

    /// The directory `file()` paths are relative to.
    pub fn dir(&self) -> std::path::PathBuf {
        std::path::Path::new(&self.display_path)
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_default()
    }

    pub fn at(&self, line: usize, column: usize) -> Location {
        Location {
            file: self.display_path.clone(),
            line,
            column,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_offsets_to_lines() {
        let f = SourceFile::new("a.hcl", "ab\ncd\n\nxyz");
        assert_eq!((f.location(0).line, f.location(0).column), (1, 1));
        assert_eq!((f.location(3).line, f.location(3).column), (2, 1));
        assert_eq!((f.location(4).line, f.location(4).column), (2, 2));
        assert_eq!((f.location(7).line, f.location(7).column), (4, 1));
        assert_eq!(f.location(999).line, 4);
    }
}
