//! Adverse-action notices: what a refused applicant is sent (Regulation B, 12 CFR 1002.9; EU
//! AI Act Art. 86 and GDPR Art. 22 for the right to an explanation and to human review). The
//! principal reasons are the explanation's reasons, already free of protected features and, for
//! applicants aged 62 or more, of age (see `riskscore_explain::client::Withheld`), worded for
//! the applicant from the reviewed wording file.

use std::fmt::Write;
use std::sync::Arc;

use riskscore_explain::client::{ClientExplanation, Reason};
use riskscore_model::bundle::Decision;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use utoipa::ToSchema;

/// Who sends the notice (`serve --lender-name --lender-contact`).
#[derive(Debug, Clone, PartialEq)]
pub struct Lender {
    pub name: String,
    pub contact: String,
}

impl Default for Lender {
    fn default() -> Self {
        Lender {
            name: "The lender".into(),
            contact: "the branch that received your application".into(),
        }
    }
}

/// One principal reason, as the applicant reads it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NoticeReason {
    pub rank: usize,
    /// The feature behind the reason (for the lender's records).
    pub feature: String,
    pub statement: String,
}

/// A decision notice: for a refusal, the statement of principal reasons and the applicant's
/// rights.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Notice {
    pub id: i64,
    /// The date of the notice (UTC, YYYY-MM-DD).
    pub date: String,
    pub lender: String,
    pub lender_contact: String,
    /// `granted` or `refused`.
    pub decision: String,
    /// A refusal's principal reasons, most important first (at most four; empty when granted).
    pub reasons: Vec<NoticeReason>,
    /// What would have been granted instead: a sentence per option of the applicant's
    /// recourse (at most three; empty when granted or when no change within the action set
    /// would be).
    pub recourse: Vec<String>,
    /// The applicant's rights, in the words sent.
    pub rights: Vec<String>,
    pub model_version: String,
    pub wording_version: String,
}

impl Notice {
    pub fn new(
        e: &ClientExplanation,
        recourse: Vec<String>,
        lender: &Lender,
        model_version: &str,
        date: &str,
    ) -> Self {
        let refused = e.decision == Decision::Refused;
        let reasons = if refused {
            e.reasons
                .iter()
                .map(|r| NoticeReason {
                    rank: r.rank,
                    feature: r.feature.clone(),
                    statement: r.sentence.clone(),
                })
                .collect()
        } else {
            Vec::new()
        };
        let rights = if refused {
            vec![
                "You have the right to a statement of the specific reasons for this decision: the \
                 principal reasons are listed above. You may ask for more detail within 60 days \
                 of this notice."
                    .to_owned(),
                format!(
                    "You have the right to have this decision reviewed by a person, to express \
                     your point of view and to contest it: contact {}.",
                    lender.contact
                ),
                "The federal Equal Credit Opportunity Act prohibits creditors from \
                 discriminating against credit applicants on the basis of race, color, religion, \
                 national origin, sex, marital status, age (provided the applicant has the \
                 capacity to enter into a binding contract); because all or part of the \
                 applicant's income derives from any public assistance program; or because the \
                 applicant has in good faith exercised any right under the Consumer Credit \
                 Protection Act."
                    .to_owned(),
            ]
        } else {
            Vec::new()
        };
        Notice {
            id: e.id,
            date: date.to_owned(),
            lender: lender.name.clone(),
            lender_contact: lender.contact.clone(),
            decision: if refused { "refused" } else { "granted" }.into(),
            reasons,
            recourse: if refused { recourse } else { Vec::new() },
            rights,
            model_version: model_version.to_owned(),
            wording_version: e.wording_version.clone(),
        }
    }

    /// The statements sent (what the journal keeps): the reasons, then the recourse.
    pub fn statements(&self) -> Vec<String> {
        self.reasons
            .iter()
            .map(|r| r.statement.clone())
            .chain(self.recourse.iter().cloned())
            .collect()
    }

    /// A printable page: one self-contained HTML document, no script.
    pub fn html(&self) -> String {
        let mut s = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Notice of decision on application {id}</title><style>{CSS}</style></head><body><main>\
<header><p class=\"lender\">{lender}</p><p>{contact}</p></header>\
<h1>Notice of decision on your credit application</h1>\
<dl><dt>Date</dt><dd>{date}</dd><dt>Application</dt><dd>{id}</dd></dl>",
            id = self.id,
            lender = esc(&self.lender),
            contact = esc(&self.lender_contact),
            date = esc(&self.date),
        );
        if self.decision == "refused" {
            s.push_str(
                "<h2>Decision</h2><p>We are unable to grant your application for credit.</p>\
<h2>Principal reasons for our decision</h2><ol>",
            );
            for r in &self.reasons {
                let _ = write!(s, "<li>{}</li>", esc(&r.statement));
            }
            s.push_str("</ol>");
            if !self.recourse.is_empty() {
                s.push_str("<h2>What would have changed our decision</h2><ul>");
                for r in &self.recourse {
                    let _ = write!(s, "<li>{}</li>", esc(r));
                }
                s.push_str("</ul>");
            }
            s.push_str("<h2>Your rights</h2><ul>");
            for r in &self.rights {
                let _ = write!(s, "<li>{}</li>", esc(r));
            }
            s.push_str("</ul>");
        } else {
            s.push_str("<h2>Decision</h2><p>Your application for credit is granted.</p>");
        }
        let _ = write!(
            s,
            "<footer><p>Decision by scoring model {}, reasons worded by version {} of the \
             reviewed wording.</p></footer></main></body></html>",
            esc(&self.model_version),
            esc(&self.wording_version)
        );
        s
    }
}

const CSS: &str = "body{font-family:Georgia,serif;color:#111;background:#fff;max-width:42em;\
margin:2em auto;padding:0 1em;line-height:1.5}header{border-bottom:1px solid #555;margin-bottom:1em}\
.lender{font-size:1.3em;font-weight:bold;margin:0}h1{font-size:1.4em}h2{font-size:1.1em;\
margin-top:1.5em}dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:bold}\
dd{margin:0}footer{margin-top:2em;font-size:.85em;color:#333}@media print{body{margin:0;max-width:none}}";

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The features of reasons, most important first (what the journal keeps of them).
pub fn features(reasons: &[Reason]) -> Vec<String> {
    reasons.iter().map(|r| r.feature.clone()).collect()
}

/// A field of an answer written as JSON once and shared: a known refused client's reasons and
/// notice are the same at every score of a day, so they are written once per client and day
/// (see [`Sent`]), not rebuilt and written again at every request.
#[derive(Debug, Clone)]
pub enum Written {
    /// `null` (a granted client's notice).
    Null,
    /// `[]` (a granted client's reasons).
    Empty,
    /// JSON written before.
    Json(Arc<RawValue>),
}

impl Written {
    /// `value` as JSON, written now.
    pub fn of<T: Serialize>(value: &T) -> serde_json::Result<Self> {
        Ok(Written::Json(Arc::from(serde_json::value::to_raw_value(
            value,
        )?)))
    }
}

impl Serialize for Written {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Written::Null => s.serialize_none(),
            Written::Empty => s.collect_seq(std::iter::empty::<()>()),
            Written::Json(raw) => raw.serialize(s),
        }
    }
}

/// A known client's refusal as sent on one day: the reasons and the notice as the score
/// answer writes them, and what the journal keeps of them.
#[derive(Debug)]
pub struct Sent {
    /// The notice's date (YYYY-MM-DD).
    pub date: String,
    /// Who sent it.
    pub lender: Lender,
    /// The explanation's reasons (`ScoreAnswer.reasons`).
    pub reasons: Written,
    /// The notice (`ScoreAnswer.notice`).
    pub notice: Written,
    /// The reasons' features, most important first (the journal's `reasons`).
    pub features: Vec<String>,
    /// The notice's statements (the journal's `notice`).
    pub statements: Vec<String>,
}

impl Sent {
    /// The refusal explained in `e` with its recourse sentences, as sent on `date`.
    pub fn new(
        e: &ClientExplanation,
        recourse: Vec<String>,
        lender: &Lender,
        model_version: &str,
        date: &str,
    ) -> serde_json::Result<Self> {
        let notice = Notice::new(e, recourse, lender, model_version, date);
        Ok(Sent {
            date: date.to_owned(),
            lender: lender.clone(),
            reasons: Written::of(&e.reasons)?,
            notice: Written::of(&notice)?,
            features: features(&e.reasons),
            statements: notice.statements(),
        })
    }
}
