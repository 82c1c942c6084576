//! `loket config check`: the effective settings (file, then environment) printed as TOML with
//! secrets redacted, and the problems an operator can fix before `serve` runs into them.

use std::path::Path;

use super::Config;

/// Prints the settings to stdout and the problems to stderr; the exit code is 1 when the
/// settings cannot be read or have a problem.
pub fn run(path: Option<&Path>) -> i32 {
    let config = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("config check: {e}");
            return 1;
        }
    };
    match toml::to_string(&config) {
        Ok(text) => print!("{text}"),
        Err(e) => {
            eprintln!("config check: cannot print the settings: {e}");
            return 1;
        }
    }
    let found = problems(&config);
    for p in &found {
        eprintln!("problem: {p}");
    }
    if found.is_empty() {
        eprintln!("config check: OK");
        0
    } else {
        eprintln!("config check: {} problem(s)", found.len());
        1
    }
}

/// What would stop `serve`, or make it misbehave, in settings that parse.
pub fn problems(config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    let server = &config.server;
    if std::net::ToSocketAddrs::to_socket_addrs(server.bind.as_str()).is_err() {
        out.push(format!(
            "server.bind {:?} is not an address to listen on (e.g. 0.0.0.0:8080)",
            server.bind
        ));
    }
    if !matches!(server.log_format.as_str(), "pretty" | "json") {
        out.push(format!(
            "server.log_format must be \"pretty\" or \"json\", not {:?}",
            server.log_format
        ));
    }
    for origin in &server.allowed_origins {
        if let Some(why) = origin_problem(origin) {
            out.push(format!("server.allowed_origins: {origin:?} {why}"));
        }
    }
    for (key, dir) in [
        ("paths.knowledge_base", &config.paths.knowledge_base),
        ("paths.intents", &config.paths.intents),
    ] {
        if !dir.is_dir() {
            out.push(format!("{key}: folder {} does not exist", dir.display()));
        }
    }
    if config.classifier.backend == "e5" {
        let model = config.model_dir();
        for file in ["model.gguf", "tokenizer.json"] {
            if !model.join(file).is_file() {
                out.push(format!(
                    "classifier: {} is missing (run scripts/fetch-model.sh)",
                    model.join(file).display()
                ));
            }
        }
    }
    let url = config.database_url();
    if !["sqlite:", "postgres:", "postgresql:"]
        .iter()
        .any(|s| url.starts_with(s))
    {
        out.push("database.url must start with sqlite:, postgres: or postgresql:".into());
    }
    let wa = &config.whatsapp;
    if wa.enabled {
        for (key, empty) in [
            ("whatsapp.access_token", wa.access_token.is_empty()),
            ("whatsapp.verify_token", wa.verify_token.is_empty()),
            ("whatsapp.phone_number_id", wa.phone_number_id.is_empty()),
        ] {
            if empty {
                out.push(format!("whatsapp.enabled needs {key}"));
            }
        }
    }
    let handoff = &config.handoff;
    for (slug, t) in &handoff.municipalities {
        if !t.webhook_url.is_empty() && t.webhook_secret.is_empty() {
            out.push(format!(
                "handoff.municipalities.{slug}.webhook_url is set without its webhook_secret"
            ));
        }
    }
    if !handoff.webhook_url.is_empty() && handoff.webhook_secret.is_empty() {
        out.push(
            "handoff.webhook_url is set without handoff.webhook_secret: the platform cannot \
             check that events come from Loket"
                .into(),
        );
    }
    out
}

/// Why a CORS origin would never match a browser's `Origin` header, if it would not.
fn origin_problem(origin: &str) -> Option<&'static str> {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return Some("needs a scheme, e.g. https://www.voorbeeld.nl");
    };
    if scheme != "https" && scheme != "http" {
        return Some("must start with https:// (or http://)");
    }
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.contains('/') || rest.contains('?') || rest.contains('#') {
        return Some("must be scheme and host only, without a path");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_an_operator_can_fix_are_named() {
        let mut c = Config::default();
        c.server.bind = "not an address".into();
        c.server.allowed_origins = vec![
            "www.voorbeeld.nl".into(),
            "https://www.voorbeeld.nl/chat".into(),
            "https://www.voorbeeld.nl/".into(),
        ];
        c.paths.knowledge_base = "/nonexistent/kb".into();
        c.classifier.backend = "hashing".into();
        c.whatsapp.enabled = true;
        c.whatsapp.app_secret = super::super::Secret::new("x");
        let found = problems(&c).join("\n");
        assert!(found.contains("server.bind"), "{found}");
        assert!(
            found.contains("\"www.voorbeeld.nl\" needs a scheme"),
            "{found}"
        );
        assert!(
            found.contains("/chat\" must be scheme and host only"),
            "{found}"
        );
        assert!(!found.contains("\"https://www.voorbeeld.nl/\""), "{found}");
        assert!(found.contains("/nonexistent/kb"), "{found}");
        assert!(
            found.contains("whatsapp.enabled needs whatsapp.phone_number_id"),
            "{found}"
        );
        assert!(!found.contains("model.gguf"), "{found}");
    }
}
