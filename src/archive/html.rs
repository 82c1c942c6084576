//! Transcripts a records officer reads: self-contained HTML in Dutch (no scripts, no external
//! files), printable, every text from the store HTML-escaped. Times in Europe/Amsterdam.

use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use chrono_tz::Europe::Amsterdam;

use super::{ArchivedConversation, ArchivedHandoff, ArchivedMessage, ArchivedNote};
use crate::store::{Channel, ConversationStatus, HandoffStatus, Sender};

/// What every page of one export shares.
#[derive(Debug, Clone)]
pub struct PageContext {
    /// "Gemeente Voorbeeld".
    pub municipality: String,
    /// "1 november 2026" or "1 t/m 7 november 2026".
    pub period: String,
    /// Department id → name, from the knowledge base.
    pub departments: HashMap<String, String>,
    pub version: String,
    /// When the export was made, formatted for people.
    pub generated_at: String,
}

pub use crate::text::escape_html as escape;

fn parse(ts: &str) -> Option<DateTime<chrono_tz::Tz>> {
    DateTime::parse_from_rfc3339(ts)
        .ok()
        .map(|t| t.with_timezone(&Amsterdam))
}

/// "1 november 2026".
pub fn dutch_date(day: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    format!(
        "{} {} {}",
        day.day(),
        crate::text::DUTCH_MONTHS[day.month0() as usize],
        day.year()
    )
}

/// "1 t/m 7 november 2026", or one date when both are the same day.
pub fn dutch_period(from: chrono::NaiveDate, to: chrono::NaiveDate) -> String {
    if from == to {
        dutch_date(from)
    } else {
        format!("{} t/m {}", dutch_date(from), dutch_date(to))
    }
}

/// A stored timestamp as "1 november 2026 10:02" in Dutch local time.
pub fn local_date_time(ts: &str) -> String {
    match parse(ts) {
        Some(t) => format!("{} {}", dutch_date(t.date_naive()), t.format("%H:%M")),
        None => ts.to_string(),
    }
}

/// A stored timestamp as "10:02:05" in Dutch local time.
fn local_time(ts: &str) -> String {
    parse(ts)
        .map(|t| t.format("%H:%M:%S").to_string())
        .unwrap_or_else(|| ts.to_string())
}

fn local_day(ts: &str) -> Option<chrono::NaiveDate> {
    parse(ts).map(|t| t.date_naive())
}

/// A time for `<time datetime>`: the stored UTC value.
fn machine_time(ts: &str) -> String {
    DateTime::parse_from_rfc3339(ts)
        .map(|t| t.with_timezone(&Utc).to_rfc3339())
        .unwrap_or_else(|_| ts.to_string())
}

pub fn channel_label(channel: Channel) -> String {
    match channel {
        Channel::Whatsapp => "WhatsApp",
        Channel::Web => "Webchat",
        Channel::Test => "Test",
    }
    .into()
}

pub fn status_label(status: ConversationStatus) -> String {
    match status {
        ConversationStatus::Bot => "afgehandeld door de bot",
        ConversationStatus::Waiting => "wacht op een medewerker",
        ConversationStatus::Assigned => "in behandeling bij een medewerker",
        ConversationStatus::Resolved => "afgerond",
    }
    .into()
}

fn handoff_status_label(status: HandoffStatus) -> String {
    match status {
        HandoffStatus::Waiting => "wacht op een medewerker".into(),
        HandoffStatus::Assigned => "opgepakt".into(),
        HandoffStatus::Resolved => "afgerond".into(),
        // Shown as the stored word, as before these had a label.
        HandoffStatus::Transferred | HandoffStatus::Released => status.to_string(),
    }
}

pub fn sender_label(m: &ArchivedMessage) -> String {
    match m.sender {
        Sender::Citizen => "Inwoner".into(),
        Sender::Bot => "Loket (bot)".into(),
        Sender::Agent => match &m.agent_id {
            Some(id) => format!("Medewerker {id}"),
            None => "Medewerker".into(),
        },
    }
}

/// "BSN", "IBAN", "telefoonnummer", … for the kinds in `messages.pii`.
pub fn pii_label(kind: &str) -> String {
    match kind {
        "bsn" => "BSN".into(),
        "iban" => "IBAN".into(),
        "phone" => "telefoonnummer".into(),
        "email" => "e-mailadres".into(),
        "date_of_birth" => "geboortedatum".into(),
        "document_number" => "documentnummer".into(),
        "medical" => "medische gegevens".into(),
        "criminal_record" => "strafrechtelijke gegevens".into(),
        other => other.to_string(),
    }
}

fn kind_label(kind: &str) -> Option<String> {
    Some(match kind {
        "text" | "" => return None,
        "button_reply" | "list_reply" => "gekozen knop".into(),
        "image" => "afbeelding (inhoud niet bewaard)".into(),
        "document" => "document (inhoud niet bewaard)".into(),
        "audio" | "voice" => "spraakbericht (inhoud niet bewaard)".into(),
        "video" => "video (inhoud niet bewaard)".into(),
        "sticker" => "sticker".into(),
        "location" => "locatie".into(),
        "template" => "sjabloonbericht".into(),
        "interactive" => "bericht met keuzeknoppen".into(),
        other => other.to_string(),
    })
}

fn delivery_label(status: &str) -> String {
    match status {
        "pending" | "queued" => "in wachtrij".into(),
        "sent" => "verzonden".into(),
        "delivered" => "afgeleverd".into(),
        "read" => "gelezen".into(),
        "failed" => "niet afgeleverd".into(),
        other => other.to_string(),
    }
}

fn action_label(action: &str) -> String {
    match action {
        "answer" => "antwoord".into(),
        "clarify" => "verduidelijkingsvraag".into(),
        "fallback" => "niet begrepen".into(),
        "handoff" => "doorverwezen naar medewerker".into(),
        "greeting" => "begroeting".into(),
        other => other.to_string(),
    }
}

fn department_label(ctx: &PageContext, id: &str) -> String {
    match ctx.departments.get(id) {
        Some(name) if name != id => format!("{name} ({id})"),
        _ => id.to_string(),
    }
}

/// One line of the timeline, in time order.
enum Event<'a> {
    Message(&'a ArchivedMessage),
    HandoffRequested(&'a ArchivedHandoff),
    HandoffClaimed(&'a ArchivedHandoff),
    HandoffResolved(&'a ArchivedHandoff),
    Note(&'a ArchivedNote),
}

fn timeline(c: &ArchivedConversation) -> Vec<(&str, Event<'_>)> {
    let mut events: Vec<(&str, Event)> = Vec::new();
    for m in &c.messages {
        events.push((&m.created_at, Event::Message(m)));
    }
    for h in &c.handoffs {
        events.push((&h.created_at, Event::HandoffRequested(h)));
        if let Some(at) = &h.claimed_at {
            events.push((at, Event::HandoffClaimed(h)));
        }
        if let Some(at) = &h.resolved_at {
            events.push((at, Event::HandoffResolved(h)));
        }
    }
    for n in &c.notes {
        events.push((&n.created_at, Event::Note(n)));
    }
    // Stable: at the same moment, messages come before the handoff they caused.
    events.sort_by(|a, b| a.0.cmp(b.0));
    events
}

fn message_details(m: &ArchivedMessage) -> Vec<String> {
    let mut d = Vec::new();
    if let Some(intent) = &m.intent {
        d.push(format!("onderwerp: {intent}"));
    }
    if let Some(faq) = &m.faq_id {
        d.push(format!("FAQ: {faq}"));
    }
    if let Some(action) = &m.action {
        d.push(format!("actie: {}", action_label(action)));
    }
    if let Some(conf) = m.confidence {
        let conf = format!("{conf:.2}").replace('.', ",");
        d.push(format!("zekerheid: {conf}"));
    }
    if let Some(status) = &m.status {
        d.push(format!("bezorging: {}", delivery_label(status)));
    }
    d
}

const STYLE: &str = r#"
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font-family: "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; font-size: 15px;
  line-height: 1.45; color: #1b1b1b; background: #f4f5f7; margin: 0; }
.page { max-width: 860px; margin: 0 auto; padding: 24px 28px 40px; background: #fff; min-height: 100vh; }
header { border-bottom: 3px solid #154273; padding-bottom: 12px; margin-bottom: 18px; }
.org { margin: 0; font-weight: 600; color: #154273; letter-spacing: .02em; }
h1 { margin: 4px 0 12px; font-size: 24px; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 3px 16px; margin: 0; }
dl.meta dt { color: #555; }
dl.meta dd { margin: 0; font-weight: 500; overflow-wrap: anywhere; }
.notice { margin: 12px 0 0; padding: 8px 12px; background: #eef3f8; border-left: 4px solid #154273;
  font-size: 13px; }
ol.timeline { list-style: none; margin: 0; padding: 0; }
ol.timeline > li { margin: 0 0 10px; break-inside: avoid; page-break-inside: avoid; }
.day { margin: 18px 0 8px; font-weight: 600; color: #555; border-bottom: 1px solid #ddd; }
.msg { padding: 8px 12px; border-radius: 8px; border: 1px solid #d9dde3; max-width: 85%; }
.msg.citizen { background: #ffffff; margin-right: auto; }
.msg.bot { background: #eaf2fb; margin-left: auto; border-color: #c6d9ee; }
.msg.agent { background: #e9f6ec; margin-left: auto; border-color: #bfe0c7; }
.head { display: flex; justify-content: space-between; gap: 12px; font-size: 13px; color: #444; }
.who { font-weight: 600; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; margin: 4px 0 0; }
.kind { font-size: 13px; font-style: italic; color: #555; margin: 4px 0 0; }
.pii { display: inline-block; margin: 6px 0 0; padding: 1px 8px; font-size: 12px;
  background: #fff4d6; border: 1px solid #e8c866; border-radius: 10px; }
.details { font-size: 12px; color: #666; margin: 4px 0 0; }
.event { text-align: center; font-size: 13px; color: #333; padding: 6px 10px; background: #f3f0fa;
  border: 1px dashed #9b87c9; border-radius: 6px; }
.note { padding: 8px 12px; background: #fffbe6; border: 1px solid #e0c45c; border-left: 5px solid #c9a227;
  border-radius: 6px; }
.label { font-size: 11px; font-weight: 700; text-transform: uppercase; letter-spacing: .05em; color: #7a5d00; }
.event .label { color: #4b3a85; }
footer { margin-top: 28px; border-top: 1px solid #ddd; padding-top: 8px; font-size: 12px; color: #666; }
table.list { border-collapse: collapse; width: 100%; font-size: 14px; }
table.list th, table.list td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #e1e4e8; vertical-align: top; }
table.list th { background: #eef3f8; }
a { color: #154273; }
@media print {
  @page { size: A4; margin: 16mm 14mm; }
  body { background: #fff; font-size: 10.5pt; }
  .page { max-width: none; padding: 0; min-height: 0; }
  .msg, .note, .event { max-width: 100%; }
  .msg.citizen, .msg.bot, .msg.agent, .note, .event, .pii, .notice, table.list th {
    -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  a { color: inherit; text-decoration: none; }
}
"#;

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"nl\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<div class=\"page\">\n{body}</div>\n</body>\n</html>\n",
        escape(title)
    )
}

/// The page around `body` (the main part, still open): closed, with the footer.
fn finished_page(mut body: String, ctx: &PageContext, title: &str) -> String {
    body.push_str("</main>\n");
    body.push_str(&footer(ctx));
    page(title, &body)
}

fn footer(ctx: &PageContext) -> String {
    format!(
        "<footer>Archiefexport gemaakt door Loket {} op {}. Teksten zijn opgeslagen zoals de \
         privacyfilter ze achterliet; het telefoonnummer van de inwoner is niet opgenomen.</footer>\n",
        escape(&ctx.version),
        escape(&ctx.generated_at)
    )
}

/// The transcript of one conversation.
pub fn transcript(c: &ArchivedConversation, ctx: &PageContext) -> String {
    let mut b = String::new();
    write_transcript_header(&mut b, c, ctx);
    let mut day = None;
    for (at, event) in timeline(c) {
        // A heading whenever the local date changes, so a long conversation reads by day.
        if let Some(d) = local_day(at)
            && day != Some(d)
        {
            day = Some(d);
            let _ = writeln!(b, "<li class=\"day\">{}</li>", escape(&dutch_date(d)));
        }
        let time = format!(
            "<time datetime=\"{}\">{}</time>",
            escape(&machine_time(at)),
            escape(&local_time(at))
        );
        write_event(&mut b, &event, &time, ctx);
    }
    if c.messages.is_empty() && c.handoffs.is_empty() && c.notes.is_empty() {
        b.push_str("<li class=\"event\">Dit gesprek bevat geen berichten.</li>\n");
    }
    b.push_str("</ol>\n");
    finished_page(
        b,
        ctx,
        &format!("Gespreksverslag {} — {}", c.id, ctx.municipality),
    )
}

/// The page header: who, which conversation, its facts, and the notice on removed personal
/// data; ends by opening the timeline list.
fn write_transcript_header(b: &mut String, c: &ArchivedConversation, ctx: &PageContext) {
    let _ = write!(
        b,
        "<header>\n<p class=\"org\">{}</p>\n<h1>Gespreksverslag</h1>\n<dl class=\"meta\">\n",
        escape(&ctx.municipality)
    );
    for (k, v) in transcript_facts(c, ctx) {
        let _ = writeln!(b, "<dt>{}</dt><dd>{}</dd>", escape(k), escape(&v));
    }
    b.push_str(
        "</dl>\n<p class=\"notice\">Persoonsgegevens die de inwoner stuurde (zoals een BSN) \
        zijn vóór opslag uit de berichten verwijderd en vervangen door een aanduiding als [BSN]. \
        Tijden zijn Nederlandse tijd.</p>\n</header>\n<main>\n<ol class=\"timeline\">\n",
    );
}

/// The label and value of each line in the header's fact list, in display order.
fn transcript_facts(c: &ArchivedConversation, ctx: &PageContext) -> Vec<(&'static str, String)> {
    let department = c
        .department
        .as_deref()
        .map(|d| department_label(ctx, d))
        .unwrap_or_else(|| "geen (alleen de bot)".into());
    let notes = if c.notes.is_empty() {
        String::new()
    } else {
        format!(", {} interne notitie(s)", c.notes.len())
    };
    let size = format!(
        "{} bericht(en), {} overdracht(en){notes}",
        c.messages.len(),
        c.handoffs.len()
    );
    vec![
        ("Gesprek", c.id.clone()),
        ("Exportperiode", ctx.period.clone()),
        ("Kanaal", channel_label(c.channel)),
        ("Afdeling", department),
        ("Status", status_label(c.status)),
        ("Begonnen", local_date_time(&c.created_at)),
        ("Laatste activiteit", local_date_time(&c.updated_at)),
        ("Omvang", size),
    ]
}

/// One item of the timeline; `time` is the ready `<time>` element.
fn write_event(b: &mut String, event: &Event<'_>, time: &str, ctx: &PageContext) {
    match event {
        Event::Message(m) => write_message(b, m, time),
        Event::HandoffRequested(h) => {
            let _ = writeln!(
                b,
                "<li class=\"event\"><span class=\"label\">Overdracht</span> {time} — doorgezet naar \
                 afdeling {}; reden: {}{}.{}</li>",
                escape(&department_label(ctx, &h.department)),
                escape(&h.reason),
                if h.within_office_hours {
                    ""
                } else {
                    " (buiten kantoortijd)"
                },
                // Later events show claiming and resolving; only a handoff still open
                // says so here.
                if h.resolved_at.is_none() {
                    format!(
                        " Stand bij export: {}.",
                        escape(&handoff_status_label(h.status))
                    )
                } else {
                    String::new()
                }
            );
        }
        Event::HandoffClaimed(h) => {
            let _ = writeln!(
                b,
                "<li class=\"event\"><span class=\"label\">Overdracht</span> {time} — opgepakt door {}.</li>",
                escape(
                    &h.agent_id
                        .as_deref()
                        .map(|a| format!("medewerker {a}"))
                        .unwrap_or_else(|| "een medewerker".into())
                )
            );
        }
        Event::HandoffResolved(h) => {
            let _ = writeln!(
                b,
                "<li class=\"event\"><span class=\"label\">Overdracht</span> {time} — afgerond \
                 (afdeling {}).</li>",
                escape(&department_label(ctx, &h.department))
            );
        }
        Event::Note(n) => {
            let _ = writeln!(
                b,
                "<li class=\"note\"><div class=\"head\"><span><span class=\"label\">Interne notitie</span> \
                 <span class=\"who\">Medewerker {}</span> (niet zichtbaar voor de inwoner)</span>{time}</div>\
                 <p class=\"text\">{}</p></li>",
                escape(&n.agent_id),
                escape(&n.text)
            );
        }
    }
}

/// A message as a speech bubble: who and when, its kind if not plain text, the text, which
/// personal data was removed, and the bot's decision details.
fn write_message(b: &mut String, m: &ArchivedMessage, time: &str) {
    let class = match m.sender {
        Sender::Citizen => "citizen",
        Sender::Agent => "agent",
        Sender::Bot => "bot",
    };
    let _ = write!(
        b,
        "<li class=\"msg {class}\"><div class=\"head\"><span class=\"who\">{}</span>{time}</div>",
        escape(&sender_label(m))
    );
    if let Some(kind) = kind_label(&m.kind) {
        let _ = write!(b, "<p class=\"kind\">[{}]</p>", escape(&kind));
    }
    if !m.text.is_empty() {
        let _ = write!(b, "<p class=\"text\">{}</p>", escape(&m.text));
    }
    if !m.pii.is_empty() {
        let kinds: Vec<String> = m.pii.iter().map(|k| pii_label(k)).collect();
        let _ = write!(
            b,
            "<p class=\"pii\">persoonsgegevens verwijderd: {}</p>",
            escape(&kinds.join(", "))
        );
    }
    let details = message_details(m);
    if !details.is_empty() {
        let _ = write!(
            b,
            "<p class=\"details\">{}</p>",
            escape(&details.join(" · "))
        );
    }
    b.push_str("</li>\n");
}

/// The index: one row per conversation, linking its transcript.
pub fn index(conversations: &[(&ArchivedConversation, String)], ctx: &PageContext) -> String {
    let mut b = String::new();
    let _ = write!(
        b,
        "<header>\n<p class=\"org\">{}</p>\n<h1>Archiefexport gesprekken</h1>\n<dl class=\"meta\">\n\
         <dt>Periode (laatste activiteit)</dt><dd>{}</dd>\n<dt>Aantal gesprekken</dt><dd>{}</dd>\n</dl>\n\
         <p class=\"notice\">Controleer de volledigheid met <code>loket archive verify</code> of \
         <code>sha256sum -c SHA256SUMS</code> in deze map.</p>\n</header>\n<main>\n",
        escape(&ctx.municipality),
        escape(&ctx.period),
        conversations.len()
    );
    if conversations.is_empty() {
        b.push_str("<p>Geen gesprekken in deze periode.</p>\n");
    } else {
        b.push_str(
            "<table class=\"list\">\n<thead><tr><th>Laatste activiteit</th><th>Gesprek</th>\
             <th>Kanaal</th><th>Afdeling</th><th>Status</th><th>Berichten</th></tr></thead>\n<tbody>\n",
        );
        for (c, file) in conversations {
            let _ = writeln!(
                b,
                "<tr><td>{}</td><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&local_date_time(&c.updated_at)),
                escape(file),
                escape(&c.id),
                escape(&channel_label(c.channel)),
                escape(
                    &c.department
                        .as_deref()
                        .map(|d| department_label(ctx, d))
                        .unwrap_or_else(|| "—".into())
                ),
                escape(&status_label(c.status)),
                c.messages.len()
            );
        }
        b.push_str("</tbody>\n</table>\n");
    }
    finished_page(
        b,
        ctx,
        &format!("Archiefexport {} — {}", ctx.period, ctx.municipality),
    )
}

/// The conversation as plain text, one line per message, note and handoff event (the
/// `inhoud` of a klantcontact).
pub fn plain_text(c: &ArchivedConversation) -> String {
    let mut out = String::new();
    for (at, event) in timeline(c) {
        let when = local_date_time(at);
        match event {
            Event::Message(m) => {
                let _ = write!(out, "[{when}] {}: ", sender_label(m));
                if let Some(kind) = kind_label(&m.kind) {
                    let _ = write!(out, "[{kind}] ");
                }
                out.push_str(&m.text);
                if !m.pii.is_empty() {
                    let kinds: Vec<String> = m.pii.iter().map(|k| pii_label(k)).collect();
                    let _ = write!(out, " (persoonsgegevens verwijderd: {})", kinds.join(", "));
                }
            }
            Event::HandoffRequested(h) => {
                let _ = write!(
                    out,
                    "[{when}] Overdracht naar afdeling {}: {}",
                    h.department, h.reason
                );
            }
            Event::HandoffClaimed(h) => {
                let _ = write!(
                    out,
                    "[{when}] Overdracht opgepakt door medewerker {}",
                    h.agent_id.as_deref().unwrap_or("?")
                );
            }
            Event::HandoffResolved(h) => {
                let _ = write!(
                    out,
                    "[{when}] Overdracht afgerond (afdeling {})",
                    h.department
                );
            }
            Event::Note(n) => {
                let _ = write!(
                    out,
                    "[{when}] Interne notitie van medewerker {}: {}",
                    n.agent_id, n.text
                );
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_escape_covers_markup_and_quotes() {
        assert_eq!(
            escape("<script>alert(1)</script> & \"q\" 'x'"),
            "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot; &#39;x&#39;"
        );
    }

    #[test]
    fn archive_local_times_are_dutch() {
        assert_eq!(
            local_date_time("2026-11-01T09:02:00.000Z"),
            "1 november 2026 10:02"
        );
        assert_eq!(
            local_date_time("2026-07-01T09:02:00.000Z"),
            "1 juli 2026 11:02"
        );
    }
}
