//! Settings as an operator gives them: environment variables as Meta and Kubernetes issue
//! them, secret files, `LOKET_CONFIG`, `loket config check` and `loket migrate`, through the
//! real binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helpers::root;

fn loket_bin() -> PathBuf {
    std::env::var_os("LOKET_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_loket")))
}

/// Runs `loket ARGS` in `dir` with only `env` among the LOKET variables; exit code, stdout,
/// stderr.
fn loket(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(loket_bin());
    cmd.args(args).current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("LOKET") {
            cmd.env_remove(k);
        }
    }
    cmd.env(
        "LOKET__PATHS__KNOWLEDGE_BASE",
        root().join("knowledge-base"),
    )
    .env("LOKET__PATHS__INTENTS", root().join("intents"))
    .env("LOKET__PATHS__MODELS", root().join("models"))
    .env("LOKET__PATHS__DATA_DIR", dir.join("data"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn settings_from_the_environment_as_meta_and_kubernetes_give_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app-secret"), "7f3a9c\n").unwrap();
    let (code, out, err) = loket(
        dir.path(),
        &["config", "check"],
        &[
            ("LOKET__CLASSIFIER__BACKEND", "hashing"),
            ("LOKET__WHATSAPP__ENABLED", "true"),
            ("LOKET__WHATSAPP__PHONE_NUMBER_ID", "106540352242922"),
            ("LOKET__WHATSAPP__ACCESS_TOKEN", "123456789"),
            ("LOKET__WHATSAPP__VERIFY_TOKEN", "42"),
            (
                "LOKET__WHATSAPP__APP_SECRET_FILE",
                dir.path().join("app-secret").to_str().unwrap(),
            ),
            (
                "LOKET__SERVER__ALLOWED_ORIGINS",
                "https://www.voorbeeld.nl,https://voorbeeld.nl",
            ),
            ("LOKET__SERVER__BODY_LIMIT_BYTES", "131072"),
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("phone_number_id = \"106540352242922\""),
        "{out}"
    );
    assert!(
        out.contains("allowed_origins = [\"https://www.voorbeeld.nl\", \"https://voorbeeld.nl\"]"),
        "{out}"
    );
    assert!(out.contains("body_limit_bytes = 131072"), "{out}");
    // Secrets are set, and never printed.
    assert!(out.contains("app_secret = \"[redacted]\""), "{out}");
    assert!(
        !out.contains("7f3a9c") && !out.contains("123456789"),
        "{out}"
    );
    assert!(err.contains("config check: OK"), "{err}");
}

#[test]
fn a_wrong_setting_is_named_with_its_variable_or_file_line_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = loket(
        dir.path(),
        &["config", "check"],
        &[("LOKET__SERVER__BODY_LIMIT_BYTES", "64KB")],
    );
    assert_eq!(code, 1);
    assert!(err.contains("LOKET__SERVER__BODY_LIMIT_BYTES"), "{err}");
    assert!(
        !err.contains("loket.toml"),
        "blames a file that does not exist: {err}"
    );

    let file = dir.path().join("elders.toml");
    std::fs::write(&file, "[server]\nbind = \"0.0.0.0:8080\"\nlog_format = 7\n").unwrap();
    let (code, _, err) = loket(
        dir.path(),
        &["config", "check"],
        &[("LOKET_CONFIG", file.to_str().unwrap())],
    );
    assert_eq!(code, 1);
    assert!(err.contains("elders.toml"), "{err}");
    assert!(err.contains("line 3"), "{err}");

    // A setting that parses but cannot work: reported, exit 1.
    let (code, _, err) = loket(
        dir.path(),
        &["config", "check"],
        &[
            ("LOKET__CLASSIFIER__BACKEND", "hashing"),
            ("LOKET__WHATSAPP__ENABLED", "true"),
            ("LOKET__WHATSAPP__APP_SECRET", "x"),
        ],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("whatsapp.enabled needs whatsapp.access_token"),
        "{err}"
    );
    // Serving with the same wrong variable stops at once and names it.
    let (code, _, err) = loket(
        dir.path(),
        &["serve"],
        &[("LOKET__SERVER__TRUSTED_PROXIES", "10.0.0.0/40")],
    );
    assert_eq!(code, 1);
    assert!(err.contains("server.trusted_proxies"), "{err}");
}

#[test]
fn migrate_applies_the_migrations_on_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = loket(dir.path(), &["migrate"], &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("is up to date"), "{out}");
    assert!(dir.path().join("data/loket.db").exists());
    // Again: nothing to do, same answer.
    let (code, again, _) = loket(dir.path(), &["migrate"], &[]);
    assert_eq!(code, 0);
    assert_eq!(out, again);
}

#[test]
fn the_systemd_units_and_publiccode_yml_verify() {
    let out = Command::new("bash")
        .arg(root().join("scripts/verify-packaging.sh"))
        .env("LOKET_BIN", loket_bin())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("publiccode.yml: OK"), "{text}");
}

#[test]
fn shell_completions_name_the_commands() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = loket(dir.path(), &["completions", "bash"], &[]);
    assert_eq!(code, 0, "{err}");
    for word in ["_loket", "serve", "migrate", "archive"] {
        assert!(out.contains(word), "{word} missing");
    }
}
