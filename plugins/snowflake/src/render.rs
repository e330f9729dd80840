//! A result as the model reads it: a plain text table (header, a rule, one line per row, long
//! cells cut), and a line saying when the row cap left rows out. The same rows go out whole
//! as the tool's structured content.

use crate::cells::shown;
use crate::statements::Rows;

/// The widest a cell is shown in the text table, in characters.
const CELL: usize = 60;

fn cell(text: &str) -> String {
    let one_line = text.replace(['\n', '\r', '\t'], " ");
    match one_line.char_indices().nth(CELL) {
        Some((at, _)) => format!("{}…", &one_line[..at]),
        None => one_line,
    }
}

/// The rows as a text table.
pub fn table(rows: &Rows) -> String {
    if rows.columns.is_empty() {
        return "The statement ran and returned no columns.".to_string();
    }
    let header: Vec<String> = rows.columns.iter().map(|c| cell(&c.name)).collect();
    let body: Vec<Vec<String>> = rows
        .rows
        .iter()
        .map(|row| row.iter().map(|v| cell(&shown(v))).collect())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &body {
        for (i, text) in row.iter().enumerate() {
            if let Some(width) = widths.get_mut(i) {
                *width = (*width).max(text.chars().count());
            }
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .map(|(text, width)| format!("{text:<width$}"))
            .collect::<Vec<_>>()
            .join(" | ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![line(&header)];
    out.push(
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("-+-"),
    );
    out.extend(body.iter().map(|row| line(row)));
    let count = rows.rows.len();
    out.push(String::new());
    if rows.truncated {
        out.push(format!(
            "Showing the first {count} of {} rows (the row cap, max_rows); narrow the query or \
             ask for more rows with max_rows.",
            rows.total_rows
        ));
    } else {
        out.push(format!("{count} row{}.", if count == 1 { "" } else { "s" }));
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::statements::Column;

    #[test]
    fn a_table_aligns_cuts_and_says_when_rows_were_left_out() {
        let rows = Rows {
            columns: vec![
                Column {
                    name: "ID".into(),
                    kind: "fixed".into(),
                },
                Column {
                    name: "TITLE".into(),
                    kind: "text".into(),
                },
            ],
            rows: vec![
                vec![json!(1), json!("Budget\nreview")],
                vec![json!(22), json!(null)],
                vec![json!(3), json!("x".repeat(100))],
            ],
            total_rows: 10,
            truncated: true,
            statement_handle: "h".into(),
        };
        let text = table(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0].trim_end(),
            format!("ID | {:<61}", "TITLE").trim_end()
        );
        assert_eq!(lines[2], "1  | Budget review");
        assert_eq!(lines[3], "22 | NULL");
        assert!(lines[4].ends_with('…') && lines[4].chars().count() == 5 + 61);
        assert!(text.contains("Showing the first 3 of 10 rows"), "{text}");
    }
}
