//! How a feature is named to a client: a reviewed, versioned wording file (see
//! `wording/home_credit.csv`), not code. An aggregated feature is worded from its parts:
//! `INSTAL_DPD_MAX` is "maximum" + "days past due" + "on previous instalments"; a one-hot
//! feature `NAME_INCOME_TYPE_Working` is "income type is Working".

use crate::{Error, Result};

/// The wording shipped with riskscore for the Home Credit feature set.
pub const HOME_CREDIT: &str = include_str!("../wording/home_credit.csv");

#[derive(Debug, Clone, Default)]
pub struct Wording {
    pub version: String,
    tables: Vec<(String, String)>,
    aggregates: Vec<(String, String)>,
    columns: Vec<(String, String)>,
    features: Vec<(String, String)>,
}

impl Wording {
    pub fn parse(text: &str) -> Result<Self> {
        let mut w = Wording::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if let Some(v) = line.strip_prefix("# version:") {
                w.version = v.trim().to_string();
                continue;
            }
            if line.starts_with('#') || line.trim().is_empty() || line == "kind,key,text" {
                continue;
            }
            let mut parts = line.splitn(3, ',');
            let (Some(kind), Some(key), Some(text)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(Error::Model(format!(
                    "wording line {}: expected kind,key,text",
                    n + 1
                )));
            };
            let entry = (key.to_string(), text.trim_matches('"').to_string());
            match kind {
                "table" => w.tables.push(entry),
                "aggregate" => w.aggregates.push(entry),
                "column" => w.columns.push(entry),
                "feature" => w.features.push(entry),
                other => {
                    return Err(Error::Model(format!(
                        "wording line {}: unknown kind {other:?}",
                        n + 1
                    )))
                }
            }
        }
        if w.version.is_empty() {
            return Err(Error::Model("wording file has no '# version:' line".into()));
        }
        Ok(w)
    }

    /// The wording shipped in the binary; an error (never empty words) if it does not parse.
    pub fn home_credit() -> Result<Self> {
        Self::parse(HOME_CREDIT)
            .map_err(|e| Error::Model(format!("the embedded Home Credit wording file: {e}")))
    }

    /// The words for a feature.
    pub fn describe(&self, feature: &str) -> String {
        if let Some((_, t)) = self.features.iter().find(|(k, _)| k == feature) {
            return t.clone();
        }
        let mut rest = feature;
        let table = longest(&self.tables, |k| rest.starts_with(k));
        if let Some((k, _)) = table {
            rest = &rest[k.len()..];
        }
        let mut aggs = Vec::new();
        // Nested aggregates (BURO_MONTHS_BALANCE_SIZE_MEAN): peel suffixes from the end.
        while let Some((k, t)) = longest(&self.aggregates, |k| {
            rest.ends_with(k) && rest.len() > k.len()
        }) {
            aggs.push(t.as_str());
            rest = &rest[..rest.len() - k.len()];
        }
        let column = self.column(rest);
        let mut words = String::new();
        for a in &aggs {
            words.push_str(a);
            words.push(' ');
        }
        words.push_str(&column);
        if let Some((_, t)) = table {
            words.push(' ');
            words.push_str(t);
        }
        words
    }

    fn column(&self, name: &str) -> String {
        if let Some((_, t)) = self.columns.iter().find(|(k, _)| k == name) {
            return t.clone();
        }
        // One-hot: the longest known column followed by _value.
        if let Some((k, t)) = longest(&self.columns, |k| {
            name.len() > k.len() + 1 && name.starts_with(k) && name.as_bytes()[k.len()] == b'_'
        }) {
            return format!("{t} is {}", &name[k.len() + 1..]);
        }
        name.to_lowercase().replace('_', " ")
    }
}

fn longest(
    entries: &[(String, String)],
    matches: impl Fn(&str) -> bool,
) -> Option<&(String, String)> {
    entries
        .iter()
        .filter(|(k, _)| matches(k))
        .max_by_key(|(k, _)| k.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregated_features_are_worded_from_their_parts() {
        let w = Wording::home_credit().unwrap();
        assert_eq!(w.version, "1");
        assert_eq!(
            w.describe("INSTAL_DPD_MAX"),
            "maximum days past due on previous instalments"
        );
        assert_eq!(w.describe("EXT_SOURCE_2"), "external credit score 2");
        assert_eq!(
            w.describe("NAME_INCOME_TYPE_Working"),
            "income type is Working"
        );
        assert_eq!(
            w.describe("BURO_CREDIT_ACTIVE_Active_MEAN"),
            "average credit status is Active in credit bureau records"
        );
        assert_eq!(
            w.describe("ACTIVE_AMT_CREDIT_SUM_DEBT_SUM"),
            "total current debt in active credit bureau loans"
        );
        assert_eq!(
            w.describe("POS_COUNT"),
            "number of previous point-of-sale and cash loan records"
        );
        // Not in the file: the name, readable.
        assert_eq!(w.describe("SOME_NEW_FLAG"), "some new flag");
    }

    #[test]
    fn a_wording_file_needs_a_version() {
        assert!(Wording::parse("kind,key,text\ncolumn,A,a\n").is_err());
        assert!(Wording::parse("# version: 2\ncolour,A,a\n").is_err());
    }
}
