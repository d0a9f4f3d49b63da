//! Column tables that fit a terminal: the least important columns are dropped first, and when even the essential
//! ones do not fit, each row becomes a block of `name value` lines, so addresses are never cut.

use unicode_width::UnicodeWidthStr;

/// One column: its header, and whether (and how early) it may be dropped to fit a narrow terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    pub header: &'static str,
    /// `None`: never dropped. `Some(n)`: dropped before every column with a higher `n`.
    pub drop_rank: Option<u8>,
}

impl Column {
    pub const fn kept(header: &'static str) -> Column {
        Column {
            header,
            drop_rank: None,
        }
    }

    pub const fn droppable(header: &'static str, rank: u8) -> Column {
        Column {
            header,
            drop_rank: Some(rank),
        }
    }
}

/// A rendered table, and the headers of the columns left out to fit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub text: String,
    pub hidden: Vec<&'static str>,
}

const GAP: usize = 2;

/// Renders `rows` (one cell per column, the first column the row's name) within `width` columns (`None`: any
/// width, as for a pipe). Cells are never cut.
pub fn render(columns: &[Column], rows: &[Vec<String>], width: Option<usize>) -> Table {
    let mut shown: Vec<usize> = (0..columns.len()).collect();
    let mut hidden = Vec::new();
    let mut droppable: Vec<(u8, usize)> = columns
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.drop_rank.map(|r| (r, i)))
        .collect();
    droppable.sort();
    let mut drops = droppable.into_iter();
    loop {
        let fits = width.is_none_or(|w| total_width(columns, rows, &shown) <= w);
        if fits {
            return Table {
                text: lines(columns, rows, &shown),
                hidden,
            };
        }
        match drops.next() {
            Some((_, i)) => {
                shown.retain(|&s| s != i);
                hidden.push(columns[i].header);
            }
            None => {
                return Table {
                    text: blocks(columns, rows),
                    hidden: Vec::new(),
                }
            }
        }
    }
}

fn cell_width(columns: &[Column], rows: &[Vec<String>], i: usize) -> usize {
    rows.iter()
        .filter_map(|r| r.get(i))
        .map(|c| c.width())
        .chain(std::iter::once(columns[i].header.width()))
        .max()
        .unwrap_or(0)
}

fn total_width(columns: &[Column], rows: &[Vec<String>], shown: &[usize]) -> usize {
    let cells: usize = shown.iter().map(|&i| cell_width(columns, rows, i)).sum();
    cells + GAP * shown.len().saturating_sub(1)
}

fn lines(columns: &[Column], rows: &[Vec<String>], shown: &[usize]) -> String {
    let widths: Vec<usize> = shown
        .iter()
        .map(|&i| cell_width(columns, rows, i))
        .collect();
    let header: Vec<String> = shown.iter().map(|&i| columns[i].header.into()).collect();
    let mut out = String::new();
    for cells in std::iter::once(header).chain(rows.iter().map(|r| {
        shown
            .iter()
            .map(|&i| r.get(i).cloned().unwrap_or_default())
            .collect()
    })) {
        let mut line = String::new();
        for (n, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if n > 0 {
                line.push_str(&" ".repeat(GAP));
            }
            line.push_str(cell);
            line.push_str(&" ".repeat(w.saturating_sub(cell.width())));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Each row as its first cell on a line of its own, then one `header  value` line per other column.
fn blocks(columns: &[Column], rows: &[Vec<String>]) -> String {
    let label = columns
        .iter()
        .skip(1)
        .map(|c| c.header.width())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (n, row) in rows.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        out.push_str(row.first().map_or("", String::as_str));
        out.push('\n');
        for (c, cell) in columns.iter().zip(row).skip(1) {
            let pad = " ".repeat(label - c.header.width() + GAP);
            out.push_str(&format!("  {}{pad}{cell}\n", c.header));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: [Column; 4] = [
        Column::kept("NAME"),
        Column::droppable("SIZE", 2),
        Column::droppable("KIND", 1),
        Column::kept("WHERE"),
    ];

    fn rows() -> Vec<Vec<String>> {
        vec![
            vec![
                "alpha".into(),
                "10".into(),
                "big".into(),
                "2001:db8::1/125".into(),
            ],
            vec!["b".into(), "7".into(), "small".into(), "10.0.0.1/30".into()],
        ]
    }

    #[test]
    fn a_wide_terminal_shows_every_column_aligned() {
        let t = render(&COLUMNS, &rows(), Some(80));
        assert_eq!(
            t.text,
            "NAME   SIZE  KIND   WHERE\n\
             alpha  10    big    2001:db8::1/125\n\
             b      7     small  10.0.0.1/30\n"
        );
        assert!(t.hidden.is_empty());
        assert_eq!(render(&COLUMNS, &rows(), None), t);
    }

    #[test]
    fn narrower_drops_the_lowest_rank_first_and_says_which() {
        let t = render(&COLUMNS, &rows(), Some(30));
        assert_eq!(t.hidden, ["KIND"]);
        assert_eq!(
            t.text,
            "NAME   SIZE  WHERE\nalpha  10    2001:db8::1/125\nb      7     10.0.0.1/30\n"
        );
        let t = render(&COLUMNS, &rows(), Some(22));
        assert_eq!(t.hidden, ["KIND", "SIZE"]);
        assert!(t.text.contains("alpha  2001:db8::1/125\n"), "{}", t.text);
    }

    #[test]
    fn too_narrow_for_the_kept_columns_turns_rows_into_blocks_without_cutting_anything() {
        let t = render(&COLUMNS, &rows(), Some(12));
        assert!(t.hidden.is_empty());
        assert_eq!(
            t.text,
            "alpha\n  SIZE   10\n  KIND   big\n  WHERE  2001:db8::1/125\n\n\
             b\n  SIZE   7\n  KIND   small\n  WHERE  10.0.0.1/30\n"
        );
    }
}
