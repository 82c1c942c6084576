//! The reports as CSV for spreadsheets: one table with `metric,value,numerator,denominator`.

use std::fmt::Write;

use super::{Distribution, Ratio, Summary, Unanswered};

/// Quotes a field when needed, and defuses spreadsheet formulas in citizens' texts (a
/// leading `=`, `+`, `-`, `@` gets a `'`).
fn field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn number(v: Option<f64>) -> String {
    match v {
        Some(v) if v.fract() == 0.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.4}"),
        None => String::new(),
    }
}

struct Table(String);

impl Table {
    fn row(&mut self, metric: &str, value: &str, numerator: &str, denominator: &str) {
        let _ = writeln!(
            self.0,
            "{},{},{},{}",
            field(metric),
            field(value),
            numerator,
            denominator
        );
    }

    fn count(&mut self, metric: &str, n: u64) {
        self.row(metric, &n.to_string(), "", "");
    }

    fn ratio(&mut self, metric: &str, r: &Ratio) {
        self.row(
            metric,
            &number(r.value),
            &r.numerator.to_string(),
            &r.denominator.to_string(),
        );
    }

    fn distribution(&mut self, metric: &str, d: &Distribution) {
        self.count(&format!("{metric}.count"), d.count);
        self.row(&format!("{metric}.median"), &number(d.median), "", "");
        self.row(&format!("{metric}.p90"), &number(d.p90), "", "");
    }
}

/// The summary as `metric,value,numerator,denominator` rows; shares have a numerator and a
/// denominator, counts and durations only a value. Per-day rows are
/// `per_day.<date>.conversations` and `per_day.<date>.citizen_messages`.
pub fn summary_csv(s: &Summary) -> String {
    let mut t = Table(String::from("metric,value,numerator,denominator\n"));
    t.row("period.from", &s.from.to_string(), "", "");
    t.row("period.to", &s.to.to_string(), "", "");
    t.row("period.time_zone", s.time_zone, "", "");
    t.row("filter.channel", s.channel.as_deref().unwrap_or(""), "", "");
    t.row(
        "filter.department",
        s.department.as_deref().unwrap_or(""),
        "",
        "",
    );
    t.count("conversations", s.totals.conversations);
    t.count("citizen_messages", s.totals.citizen_messages);
    t.count("bot_decisions", s.bot_decisions);
    t.ratio("answered_in_one_go", &s.answered_in_one_go);
    t.ratio("conversations_handed_off", &s.conversations_handed_off);
    t.ratio("clarify_rate", &s.clarify_rate);
    t.ratio("handoff_rate", &s.handoff_rate);
    t.ratio("fallback_rate", &s.fallback_rate);
    t.ratio("privacy_redirects", &s.privacy_redirects);
    t.ratio("pii_removed", &s.pii_removed);
    for k in &s.pii_kinds {
        t.count(&format!("pii_removed.{}", k.kind), k.messages);
    }
    t.distribution("bot_response_ms", &s.bot_response_ms);
    let h = &s.first_human_reply_minutes;
    t.count("handoffs", h.handoffs);
    t.count(
        "handoffs.within_office_hours",
        h.handoffs_within_office_hours,
    );
    t.count("handoffs.without_reply", h.without_reply);
    t.distribution("first_human_reply_minutes", &h.all);
    t.distribution(
        "first_human_reply_minutes.within_office_hours",
        &h.within_office_hours,
    );
    t.distribution(
        "first_human_reply_minutes.outside_office_hours",
        &h.outside_office_hours,
    );
    t.ratio(
        &format!("first_human_reply.within_{}_minutes", h.promised_minutes),
        &h.within_promise,
    );
    for (group, rows) in [
        ("per_channel", &s.per_channel),
        ("per_department", &s.per_department),
    ] {
        for c in rows {
            let key = format!("{group}.{}", c.key);
            t.count(&format!("{key}.conversations"), c.conversations);
            t.count(&format!("{key}.citizen_messages"), c.citizen_messages);
        }
    }
    for i in &s.top_intents {
        t.ratio(&format!("top_intent.{}", i.key), &i.share);
    }
    for f in &s.top_faqs {
        t.ratio(&format!("top_faq.{}", f.key), &f.share);
    }
    for d in &s.per_day {
        t.count(
            &format!("per_day.{}.conversations", d.date),
            d.conversations,
        );
        t.count(
            &format!("per_day.{}.citizen_messages", d.date),
            d.citizen_messages,
        );
    }
    t.0
}

/// The groups of unanswered messages, largest first; examples joined with ` | `.
pub fn unanswered_csv(u: &Unanswered) -> String {
    let mut out = String::from(
        "rank,size,intent,intent_count,fallback,clarify,low_confidence,first_seen,last_seen,examples\n",
    );
    for (i, g) in u.groups.iter().enumerate() {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{}",
            i + 1,
            g.size,
            field(g.intent.as_deref().unwrap_or("")),
            g.intent_count,
            g.fallback,
            g.clarify,
            g.low_confidence,
            g.first_seen,
            g.last_seen,
            field(&g.examples.join(" | ")),
        );
    }
    out
}

/// The same table for a spreadsheet in the Dutch locale (`format=excel`): a byte-order mark
/// so that Excel reads UTF-8, `;` between fields and a decimal comma (Dutch Excel reads a
/// comma-separated file as one column and `0.4444` as text), lines ending in CRLF.
pub fn excel(csv: &str) -> String {
    let mut out = String::with_capacity(csv.len() + 16);
    out.push('\u{feff}');
    for record in records(csv) {
        let fields: Vec<String> = record
            .iter()
            .map(|f| {
                let f = if is_decimal(f) {
                    f.replace('.', ",")
                } else {
                    f.clone()
                };
                if f.contains([';', '"', '\n', '\r']) {
                    format!("\"{}\"", f.replace('"', "\"\""))
                } else {
                    f
                }
            })
            .collect();
        out.push_str(&fields.join(";"));
        out.push_str("\r\n");
    }
    out
}

fn is_decimal(f: &str) -> bool {
    let digits = f.strip_prefix('-').unwrap_or(f);
    matches!(digits.split_once('.'), Some((a, b))
        if !a.is_empty() && !b.is_empty()
            && a.bytes().all(|c| c.is_ascii_digit())
            && b.bytes().all(|c| c.is_ascii_digit()))
}

/// The records of a comma-separated text as written above (RFC 4180 quoting).
fn records(csv: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let (mut record, mut field) = (Vec::new(), String::new());
    let mut chars = csv.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                out.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        out.push(record);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_excel_table_has_a_bom_semicolons_and_decimal_commas() {
        let csv = "metric,value,numerator,denominator\nanswered,0.4444,4,9\n\
                   note,\"a,b; \"\"c\"\"\",,\nversion,2.3.1,,\n";
        assert_eq!(
            excel(csv),
            "\u{feff}metric;value;numerator;denominator\r\nanswered;0,4444;4;9\r\n\
             note;\"a,b; \"\"c\"\"\";;\r\nversion;2.3.1;;\r\n"
        );
    }

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("zei \"hoi\""), "\"zei \"\"hoi\"\"\"");
        assert_eq!(field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(field("-1,2"), "\"'-1,2\"");
        assert_eq!(number(Some(0.5)), "0.5000");
        assert_eq!(number(Some(3.0)), "3");
        assert_eq!(number(None), "");
    }
}
