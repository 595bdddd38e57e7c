//! `--format` templates: the part of Go's text/template that Docker users
//! write, over JSON values.  Actions print a pipeline (`{{.A.B}}`,
//! `{{.Names | upper}}`, `{{join .Args " "}}`, `{{(index .Mounts 0).Type}}`);
//! `{{if}}`/`{{else if}}`/`{{else}}`/`{{end}}`, `{{range}}` (with
//! `$i, $e :=`) and `{{with}}`; variables (`$`, `{{$x := ...}}`); trim
//! markers (`{{-`, `-}}`) and comments; Go's functions (`len`, `index`,
//! `print`, `printf`, `println`, `eq`, `ne`, `lt`, `le`, `gt`, `ge`, `and`,
//! `or`, `not`) and Docker's (`json`, `split`, `join`, `title`, `lower`,
//! `upper`, `pad`, `truncate`) and its `.Label "key"`.  A `table`
//! template's rows go through Go's tabwriter as Docker's do.

use serde_json::Value;

mod eval;
mod parse;

/// A `--format` template, parsed.
#[derive(Debug)]
pub struct Template {
    nodes: Vec<parse::Node>,
    /// Whether it starts with `table` (a header row is printed and the
    /// rows' tab-separated cells are aligned).
    pub table: bool,
}

impl Template {
    /// Parse `s` (Docker's `\t` and `\n` escapes taken as tab and
    /// newline); the error is one line naming what is wrong.
    pub fn parse(s: &str) -> Result<Template, String> {
        let (table, rest) = match s.strip_prefix("table") {
            Some(r) if r.is_empty() || r.starts_with(char::is_whitespace) => (true, r.trim_start()),
            _ => (false, s),
        };
        let text = rest.replace("\\t", "\t").replace("\\n", "\n");
        let nodes =
            parse::parse(&text).map_err(|e| format!("template parsing error: template: {e}"))?;
        Ok(Template { nodes, table })
    }

    /// The template filled from `v`; an error naming a field `v` lacks.
    pub fn render(&self, v: &Value) -> Result<String, String> {
        eval::run(&self.nodes, v, None).map_err(|e| format!("template: {e}"))
    }

    /// The header row of a `table` template, each field titled by
    /// `title` (its upper-cased name when `title` has none).
    pub fn header_with(&self, title: &dyn Fn(&str) -> Option<&'static str>) -> String {
        let name = |f: &str| title(f).map_or_else(|| f.to_uppercase(), String::from);
        eval::run(&self.nodes, &Value::Null, Some(&name)).unwrap_or_default()
    }

    /// The header row of a `table` template: the field names.
    pub fn header(&self) -> String {
        self.header_with(&|_| None)
    }

    /// `rows` through the template, a line each; a `table` template's
    /// header (titled by `title`) first and the cells aligned.
    pub fn render_all(
        &self,
        rows: &[Value],
        title: &dyn Fn(&str) -> Option<&'static str>,
    ) -> Result<String, String> {
        let mut text = String::new();
        if self.table {
            text += &self.header_with(title);
            text.push('\n');
        }
        for r in rows {
            text += &self.render(r)?;
            text.push('\n');
        }
        Ok(match self.table {
            true => tabwrite(&text),
            false => text,
        })
    }
}

/// `text` aligned as Go's tabwriter aligns Docker's tables (minimum
/// width 10, padding 3, spaces): each tab-terminated cell padded to its
/// column's widest in the run of lines that have that column.
pub fn tabwrite(text: &str) -> String {
    let lines: Vec<Vec<&str>> = text.split('\n').map(|l| l.split('\t').collect()).collect();
    let cols = lines.iter().map(|l| l.len()).max().unwrap_or(0);
    let mut widths = vec![vec![0usize; cols]; lines.len()];
    for c in 0..cols {
        let mut start = 0;
        while start < lines.len() {
            // a run of lines whose cell `c` ends with a tab
            let has = |i: usize| lines[i].len() > c + 1;
            if !has(start) {
                start += 1;
                continue;
            }
            let mut end = start;
            while end < lines.len() && has(end) {
                end += 1;
            }
            let w = (start..end)
                .map(|i| lines[i][c].chars().count() + 3)
                .max()
                .unwrap_or(0)
                .max(10);
            (start..end).for_each(|i| widths[i][c] = w);
            start = end;
        }
    }
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let mut s = String::new();
        for (c, cell) in l.iter().enumerate() {
            s += cell;
            if c + 1 < l.len() {
                s += &" ".repeat(widths[i][c] - cell.chars().count());
            }
        }
        out.push(s);
    }
    out.join("\n")
}

#[cfg(test)]
mod tests;
