//! `loket dev fake-whatsapp`: chat with a running Loket as a WhatsApp user, without Meta.
//!
//! Starts [`FakeGraph`] (point Loket's `whatsapp.base_url` at it), sends every stdin line
//! to Loket as a signed inbound text webhook, and prints every message Loket sends. A line
//! `#N` taps option N of the last buttons or list Loket sent.
//!
//! ```text
//! loket serve   # with LOKET__WHATSAPP__ENABLED=true LOKET__WHATSAPP__BASE_URL=http://127.0.0.1:9009
//!               #      LOKET__WHATSAPP__ACCESS_TOKEN=dev LOKET__WHATSAPP__APP_SECRET=dev-secret
//! loket dev fake-whatsapp --port 9009 --loket http://127.0.0.1:8080 --app-secret dev-secret
//! > wat kost een paspoort?
//! loket → 31612345678: Bedoelt u …
//!   #1 Paspoort aanvragen
//! > #1
//! ```
//!
//! Input can be piped (`printf 'hallo\n#1\n' | loket dev fake-whatsapp …`): after the
//! last line the command waits until Loket has been quiet for 3 seconds, then exits.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result};
use serde_json::Value;
use tokio::io::AsyncBufReadExt;

use super::fake::{FakeGraph, Received};
use super::webhook::{self, Choice};
use crate::config::Config;

#[derive(Debug, clap::Subcommand)]
pub enum DevCommand {
    /// Run a fake WhatsApp Graph API and chat with a running Loket through it.
    FakeWhatsapp(FakeWhatsAppArgs),
}

#[derive(Debug, clap::Args)]
pub struct FakeWhatsAppArgs {
    /// Port of the fake Graph API (Loket's whatsapp.base_url = http://127.0.0.1:PORT).
    #[arg(long, default_value_t = 9009)]
    pub port: u16,
    /// Base URL of the running Loket; webhooks go to {loket}/webhooks/whatsapp.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub loket: String,
    /// App secret to sign webhooks with (default: whatsapp.app_secret of the configuration).
    #[arg(long, env = "LOKET_FAKE_APP_SECRET", hide_env_values = true)]
    pub app_secret: Option<String>,
    /// The business number id (default: whatsapp.phone_number_id, else "1234567890").
    #[arg(long)]
    pub phone_number_id: Option<String>,
    /// The citizen's WhatsApp id.
    #[arg(long, default_value = "31612345678")]
    pub from: String,
    /// The citizen's profile name.
    #[arg(long, default_value = "Test Inwoner")]
    pub name: String,
}

pub fn run(config: &Config, command: DevCommand) -> Result<i32> {
    match command {
        DevCommand::FakeWhatsapp(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            runtime.block_on(fake_whatsapp(config, args))
        }
    }
}

/// The last interactive message Loket sent to the citizen: its wamid and options.
type LastOptions = Arc<Mutex<Option<(Option<String>, Vec<Choice>)>>>;

async fn fake_whatsapp(config: &Config, args: FakeWhatsAppArgs) -> Result<i32> {
    let app_secret = args
        .app_secret
        .clone()
        .unwrap_or_else(|| config.whatsapp.app_secret.expose().to_string());
    if app_secret.is_empty() {
        eprintln!(
            "warning: no app secret (--app-secret or whatsapp.app_secret); Loket will reject the webhooks"
        );
    }
    let phone_number_id = args
        .phone_number_id
        .clone()
        .or_else(|| Some(config.whatsapp.phone_number_id.clone()).filter(|p| !p.is_empty()))
        .unwrap_or_else(|| "1234567890".to_string());
    let fake = FakeGraph::start(&format!("127.0.0.1:{}", args.port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", args.port))?;
    eprintln!(
        "Fake WhatsApp Graph API on {base}\n\
         Run Loket with LOKET__WHATSAPP__ENABLED=true LOKET__WHATSAPP__BASE_URL={base} \
         LOKET__WHATSAPP__PHONE_NUMBER_ID={phone_number_id}, any non-empty \
         LOKET__WHATSAPP__ACCESS_TOKEN and the same app secret.\n\
         Type a message and Enter; #N taps option N of the last buttons or list; Ctrl-D ends.",
        base = fake.base_url()
    );

    let last: LastOptions = Arc::default();
    let printer = tokio::spawn(print_replies(fake.clone(), args.from.clone(), last.clone()));

    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let wamid = format!("wamid.DEV{}", uuid::Uuid::new_v4().simple());
        let ts = chrono::Utc::now().timestamp();
        let payload = match parse_option_number(line) {
            Some(n) => {
                let picked = last.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let Some((context_id, choices)) = picked else {
                    eprintln!("(no buttons or list received yet)");
                    continue;
                };
                let Some(choice) = n.checked_sub(1).and_then(|i| choices.get(i)) else {
                    eprintln!("(there is no option {n}; 1 to {})", choices.len());
                    continue;
                };
                webhook::inbound_button_payload(
                    &phone_number_id,
                    &args.from,
                    &args.name,
                    &wamid,
                    choice,
                    context_id.as_deref(),
                    ts,
                )
            }
            None => webhook::inbound_text_payload(
                &phone_number_id,
                &args.from,
                &args.name,
                &wamid,
                line,
                ts,
            ),
        };
        match webhook::deliver_webhook(&args.loket, app_secret.as_bytes(), &payload).await {
            Ok(status) if status.is_success() => {}
            Ok(status) => eprintln!("(Loket answered the webhook with {status})"),
            Err(e) => eprintln!("(cannot reach Loket at {}: {e})", args.loket),
        }
    }

    // Input ended (e.g. a piped script): let the last replies arrive, then stop.
    let mut count = fake.received().len();
    loop {
        let now = fake.wait_for(count + 1, Duration::from_secs(3)).await.len();
        if now == count {
            break;
        }
        count = now;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    printer.abort();
    Ok(0)
}

async fn print_replies(fake: FakeGraph, citizen: String, last: LastOptions) {
    let mut seen = 0;
    loop {
        let received = fake.wait_for(seen + 1, Duration::from_secs(3600)).await;
        for r in received.iter().skip(seen) {
            if r.body["to"] == citizen.as_str()
                && let Some(choices) = choices(&r.body)
            {
                *last.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some((r.message_id.clone(), choices));
            }
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", describe(r));
            let _ = out.flush();
        }
        seen = received.len();
    }
}

/// `#3` → 3.
fn parse_option_number(line: &str) -> Option<usize> {
    line.strip_prefix('#')?.trim().parse().ok()
}

/// The options of an interactive message, numbered from 1 in this order.
pub fn choices(body: &Value) -> Option<Vec<Choice>> {
    let interactive = &body["interactive"];
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    match interactive["type"].as_str()? {
        "button" => Some(
            interactive["action"]["buttons"]
                .as_array()?
                .iter()
                .map(|b| Choice::Button {
                    id: text(&b["reply"]["id"]),
                    title: text(&b["reply"]["title"]),
                })
                .collect(),
        ),
        "list" => Some(
            interactive["action"]["sections"]
                .as_array()?
                .iter()
                .flat_map(|s| s["rows"].as_array().cloned().unwrap_or_default())
                .map(|r| Choice::List {
                    id: text(&r["id"]),
                    title: text(&r["title"]),
                    description: r["description"].as_str().map(str::to_string),
                })
                .collect(),
        ),
        _ => None,
    }
}

/// One accepted request as the console shows it.
pub fn describe(r: &Received) -> String {
    let body = &r.body;
    if body["status"] == "read" {
        let typing = if body.get("typing_indicator").is_some() {
            ", typing…"
        } else {
            ""
        };
        return format!("  (read{typing})");
    }
    let to = body["to"].as_str().unwrap_or("?");
    let mut out = format!("loket → {to}: ");
    match body["type"].as_str().unwrap_or("text") {
        "text" => out.push_str(body["text"]["body"].as_str().unwrap_or_default()),
        "interactive" => {
            out.push_str(
                body["interactive"]["body"]["text"]
                    .as_str()
                    .unwrap_or_default(),
            );
            if body["interactive"]["type"] == "list" {
                let label = body["interactive"]["action"]["button"]
                    .as_str()
                    .unwrap_or_default();
                out.push_str(&format!("\n  [{label}]"));
            }
            for (i, choice) in choices(body).unwrap_or_default().iter().enumerate() {
                match choice {
                    Choice::Button { title, .. } => {
                        out.push_str(&format!("\n  #{} {title}", i + 1))
                    }
                    Choice::List {
                        title, description, ..
                    } => {
                        out.push_str(&format!("\n  #{} {title}", i + 1));
                        if let Some(d) = description {
                            out.push_str(&format!(" — {d}"));
                        }
                    }
                }
            }
        }
        "template" => {
            let t = &body["template"];
            let params: Vec<&str> = t["components"][0]["parameters"]
                .as_array()
                .map(|ps| ps.iter().filter_map(|p| p["text"].as_str()).collect())
                .unwrap_or_default();
            out.push_str(&format!(
                "[template {} ({})] {}",
                t["name"].as_str().unwrap_or("?"),
                t["language"]["code"].as_str().unwrap_or("?"),
                params.join(" | ")
            ));
        }
        other => out.push_str(&format!("[{other}] {body}")),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::whatsapp::outbound;
    use crate::dialogue::ReplyOption;
    use std::time::Instant;

    fn received(body: Value) -> Received {
        Received {
            path: "/v21.0/PN/messages".into(),
            authorization: Some("Bearer t".into()),
            body,
            at: Instant::now(),
            message_id: Some("wamid.FAKE1".into()),
        }
    }

    fn options(n: usize) -> Vec<ReplyOption> {
        (1..=n)
            .map(|i| ReplyOption {
                id: format!("faq-{i}"),
                title: format!("Onderwerp {i}"),
                description: if i == 4 {
                    "Meer uitleg".into()
                } else {
                    String::new()
                },
            })
            .collect()
    }

    #[test]
    fn option_numbers() {
        assert_eq!(parse_option_number("#2"), Some(2));
        assert_eq!(parse_option_number("# 10"), Some(10));
        assert_eq!(parse_option_number("#twee"), None);
        assert_eq!(parse_option_number("hallo #2"), None);
    }

    #[test]
    fn buttons_are_numbered() {
        let body = outbound::reply("316", "Bedoelt u?", &options(2), "Kies");
        assert_eq!(
            choices(&body).unwrap(),
            vec![
                Choice::Button {
                    id: "faq-1".into(),
                    title: "Onderwerp 1".into()
                },
                Choice::Button {
                    id: "faq-2".into(),
                    title: "Onderwerp 2".into()
                },
            ]
        );
        assert_eq!(
            describe(&received(body)),
            "loket → 316: Bedoelt u?\n  #1 Onderwerp 1\n  #2 Onderwerp 2"
        );
    }

    #[test]
    fn list_rows_are_numbered() {
        let body = outbound::reply("316", "Waarover?", &options(4), "Onderwerpen");
        let c = choices(&body).unwrap();
        assert_eq!(c.len(), 4);
        assert_eq!(
            c[3],
            Choice::List {
                id: "faq-4".into(),
                title: "Onderwerp 4".into(),
                description: Some("Meer uitleg".into())
            }
        );
        let shown = describe(&received(body));
        assert!(
            shown.starts_with("loket → 316: Waarover?\n  [Onderwerpen]\n  #1 Onderwerp 1"),
            "{shown}"
        );
        assert!(shown.ends_with("#4 Onderwerp 4 — Meer uitleg"), "{shown}");
    }

    #[test]
    fn text_template_and_read() {
        assert_eq!(
            describe(&received(outbound::text("316", "Hallo"))),
            "loket → 316: Hallo"
        );
        assert_eq!(choices(&outbound::text("316", "Hallo")), None);
        assert_eq!(
            describe(&received(outbound::template(
                "316",
                "loket_antwoord_klaar",
                "nl",
                &["Jan"]
            ))),
            "loket → 316: [template loket_antwoord_klaar (nl)] Jan"
        );
        assert_eq!(
            describe(&received(outbound::mark_read("wamid.X", true))),
            "  (read, typing…)"
        );
    }
}
