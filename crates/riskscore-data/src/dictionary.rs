//! The Kaggle column dictionary (`HomeCredit_columns_description.csv`). The published file is
//! Windows-1252 with CRLF line ends; UTF-8 files are accepted too.

use std::path::Path;

use crate::error::{Error, Result};
use crate::read::read_bytes;

/// One described column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDescription {
    /// The file(s) the column belongs to, as written (e.g. `application_{train|test}.csv`).
    pub table: String,
    pub column: String,
    pub description: String,
    pub special: String,
}

/// Decodes Windows-1252 bytes. Bytes 0x80-0x9F map to the code page's characters; the five
/// bytes the code page leaves undefined map to the C1 control of the same value.
pub fn decode_windows_1252(bytes: &[u8]) -> String {
    const HIGH: [char; 32] = [
        '\u{20AC}', '\u{81}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}',
        '\u{2021}', '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{8D}',
        '\u{017D}', '\u{8F}', '\u{90}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}',
        '\u{2013}', '\u{2014}', '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}', '\u{0153}',
        '\u{9D}', '\u{017E}', '\u{0178}',
    ];
    bytes
        .iter()
        .map(|&b| match b {
            0x80..=0x9F => HIGH[usize::from(b - 0x80)],
            _ => char::from(b),
        })
        .collect()
}

/// Reads the dictionary, whatever its encoding (UTF-8 or Windows-1252) and line ends.
pub fn read_dictionary(path: &Path) -> Result<Vec<ColumnDescription>> {
    let bytes = read_bytes(path)?;
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => decode_windows_1252(e.as_bytes()),
    };
    parse_dictionary(path, &text)
}

fn parse_dictionary(path: &Path, text: &str) -> Result<Vec<ColumnDescription>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let headers = reader.headers().map_err(|e| invalid(path, &e))?.clone();
    let find = |name: &str| headers.iter().position(|h| h.trim() == name);
    let (Some(t), Some(r), Some(d)) = (find("Table"), find("Row"), find("Description")) else {
        return Err(Error::MissingColumns {
            path: path.to_owned(),
            table: "column dictionary".into(),
            columns: ["Table", "Row", "Description"]
                .iter()
                .filter(|c| find(c).is_none())
                .map(|c| (*c).into())
                .collect(),
        });
    };
    let s = find("Special");
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| invalid(path, &e))?;
        let get = |i: usize| record.get(i).unwrap_or("").trim().to_owned();
        out.push(ColumnDescription {
            table: get(t),
            column: get(r),
            description: get(d),
            special: s.map(get).unwrap_or_default(),
        });
    }
    Ok(out)
}

fn invalid(path: &Path, e: &csv::Error) -> Error {
    Error::BadLine {
        path: path.to_owned(),
        line: e.position().map_or(0, |p| p.line()),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_1252_quotes_and_crlf() {
        // 0x92 is the right single quote in Windows-1252, 0xE9 is 'é' as in Latin-1.
        let bytes = b",Table,Row,Description,Special\r\n1,bureau.csv,X,Client\x92s caf\xE9,\r\n";
        let text = decode_windows_1252(bytes);
        let rows = parse_dictionary(Path::new("d.csv"), &text).unwrap_or_default();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].description, "Client\u{2019}s caf\u{e9}");
        assert_eq!(rows[0].column, "X");
        assert_eq!(rows[0].special, "");
    }
}
