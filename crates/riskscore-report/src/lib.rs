//! Self-contained HTML reports: one file, inline CSS and SVG charts, no script or network, so a
//! report opens offline and prints. Charts use the Okabe-Ito colour-blind-safe palette and carry
//! a text alternative.

pub mod chart;

use std::fmt::Write;

pub use chart::{BarChart, LineChart, Series};

/// Okabe-Ito palette (distinguishable with the common colour-vision deficiencies).
pub const PALETTE: [&str; 7] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
];

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A report page built section by section.
#[derive(Debug)]
pub struct Page {
    title: String,
    body: String,
}

const CSS: &str = "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#1a1a1a;line-height:1.45}\
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}th,td{border:1px solid #bbb;padding:.25em .6em;text-align:right}\
th{background:#eef}td:first-child,th:first-child{text-align:left}.note{color:#444;font-size:.9em}.warn{color:#8a1c1c}\
.kpi{display:inline-block;margin:.3em 1.5em .3em 0}.kpi b{display:block;font-size:1.4em}\
.best{background:#e6f4ea;font-weight:bold}figure{margin:1em 0}figcaption{font-size:.85em;color:#444}\
.charts{display:flex;flex-wrap:wrap;gap:1em}";

impl Page {
    pub fn new(title: &str) -> Self {
        Page {
            title: title.to_string(),
            body: String::new(),
        }
    }

    /// Adds a section with a heading and raw HTML content (escape text with `esc`).
    pub fn section(&mut self, heading: &str, html: &str) -> &mut Self {
        let _ = write!(
            self.body,
            "<section><h2>{}</h2>\n{html}\n</section>\n",
            esc(heading)
        );
        self
    }

    /// Adds raw HTML directly under the title.
    pub fn raw(&mut self, html: &str) -> &mut Self {
        self.body.push_str(html);
        self
    }

    pub fn finish(&self) -> String {
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{t}</title><style>{CSS}</style></head>\n<body><main><h1>{t}</h1>\n{}</main></body></html>\n",
            self.body,
            t = esc(&self.title)
        )
    }
}

/// A table from headers and rows of already formatted cells (escaped here). Rows listed in
/// `highlight` get the `best` class.
pub fn table(headers: &[&str], rows: &[Vec<String>], highlight: &[usize]) -> String {
    let mut s = String::from("<table><thead><tr>");
    for h in headers {
        let _ = write!(s, "<th scope=\"col\">{}</th>", esc(h));
    }
    s.push_str("</tr></thead><tbody>");
    for (i, row) in rows.iter().enumerate() {
        if highlight.contains(&i) {
            s.push_str("<tr class=\"best\">");
        } else {
            s.push_str("<tr>");
        }
        for cell in row {
            let _ = write!(s, "<td>{}</td>", esc(cell));
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
    s
}

/// Key figures shown large at the top of a report.
pub fn kpis(items: &[(&str, String)]) -> String {
    let mut s = String::new();
    for (label, value) in items {
        let _ = write!(
            s,
            "<div class=\"kpi\"><b>{}</b>{}</div>",
            esc(value),
            esc(label)
        );
    }
    s
}

/// A number with `digits` decimals, "–" for NaN.
pub fn num(v: f64, digits: usize) -> String {
    if v.is_nan() {
        "–".to_string()
    } else {
        format!("{v:.digits$}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let mut p = Page::new("A & B");
        p.section("<s>", &table(&["x"], &[vec!["<td>".into()]], &[]));
        let html = p.finish();
        assert!(html.contains("<title>A &amp; B</title>"));
        assert!(html.contains("<td>&lt;td&gt;</td>"));
        assert!(!html.contains("<script"));
    }
}
