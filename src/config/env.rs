//! Settings from the environment: `LOKET__SECTION__KEY=value`, and `LOKET__SECTION__KEY_FILE`
//! (or `LOKET__SECTION__KEY__FILE`) naming a file that holds the value, as Kubernetes and
//! Docker mount secrets.
//!
//! A value is typed by the setting it sets, not by how it looks: Meta's phone number id
//! `106540352242922` stays a string, `LOKET__SERVER__ALLOWED_ORIGINS` takes a list
//! (comma-separated, or a JSON array). The types come from the serialized defaults, so a new
//! setting needs no entry here. Every error names the variable.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::ConfigError;

pub(super) const PREFIX: &str = "LOKET__";

/// One setting taken from the environment.
#[derive(Debug, Clone)]
pub(super) struct Override {
    /// The variable it came from, for error messages.
    pub var: String,
    pub section: String,
    pub key: String,
    pub value: toml::Value,
}

/// The kind of value a setting takes, read off the serialized defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Integer,
    Float,
    Boolean,
    List,
}

impl Kind {
    fn of(value: &toml::Value) -> Kind {
        match value {
            toml::Value::Integer(_) => Kind::Integer,
            toml::Value::Float(_) => Kind::Float,
            toml::Value::Boolean(_) => Kind::Boolean,
            toml::Value::Array(_) => Kind::List,
            _ => Kind::String,
        }
    }
}

/// The settings the environment sets, in a stable order (by variable name), each typed by
/// `defaults` (the serialized default config: `section -> key -> value`). Settings without a
/// default (optional paths and names) are strings; unknown sections and keys are left for
/// the config's own `deny_unknown_fields` check, which the caller runs per variable.
pub(super) fn overrides(
    env: impl IntoIterator<Item = (String, String)>,
    defaults: &toml::Table,
    read_file: impl Fn(&std::path::Path) -> std::io::Result<String>,
) -> Result<Vec<Override>, ConfigError> {
    let mut direct: BTreeMap<(String, String), (String, String)> = BTreeMap::new();
    let mut from_file: BTreeMap<(String, String), (String, PathBuf)> = BTreeMap::new();
    for (var, raw) in env {
        let Some(rest) = var.strip_prefix(PREFIX) else {
            continue;
        };
        let mut parts: Vec<String> = rest.split("__").map(|k| k.to_ascii_lowercase()).collect();
        let mut is_file = false;
        if parts.len() == 3 && parts[2] == "file" {
            parts.pop();
            is_file = true;
        }
        if parts.len() != 2 || parts.iter().any(|k| k.is_empty()) {
            return Err(ConfigError::Env {
                var,
                message: "expected LOKET__SECTION__KEY (e.g. LOKET__SERVER__BIND) or \
                          LOKET__SECTION__KEY_FILE for a value in a file"
                    .into(),
            });
        }
        let (section, mut key) = (parts[0].clone(), parts[1].clone());
        let known = |k: &str| {
            defaults
                .get(&section)
                .and_then(|s| s.as_table())
                .is_some_and(|s| s.contains_key(k))
        };
        if !is_file
            && !known(&key)
            && let Some(stripped) = key.strip_suffix("_file")
        {
            key = stripped.to_string();
            is_file = true;
        }
        let slot = (section, key);
        if is_file {
            from_file.insert(slot, (var, PathBuf::from(raw)));
        } else {
            direct.insert(slot, (var, raw));
        }
    }

    let mut out = Vec::with_capacity(direct.len() + from_file.len());
    for ((section, key), (var, path)) in from_file {
        if let Some((other, _)) = direct.remove(&(section.clone(), key.clone())) {
            return Err(ConfigError::Env {
                var,
                message: format!("{other} sets the same setting; set only one of the two"),
            });
        }
        let text = read_file(&path).map_err(|e| ConfigError::Env {
            var: var.clone(),
            message: format!("cannot read {}: {e}", path.display()),
        })?;
        // Secret files usually end with a newline that is not part of the secret.
        let raw = text.trim_end_matches(['\n', '\r']).to_string();
        out.push(typed(var, section, key, &raw, defaults)?);
    }
    for ((section, key), (var, raw)) in direct {
        out.push(typed(var, section, key, &raw, defaults)?);
    }
    out.sort_by(|a, b| a.var.cmp(&b.var));
    Ok(out)
}

fn typed(
    var: String,
    section: String,
    key: String,
    raw: &str,
    defaults: &toml::Table,
) -> Result<Override, ConfigError> {
    let kind = defaults
        .get(&section)
        .and_then(|s| s.as_table())
        .and_then(|s| s.get(&key))
        .map(Kind::of)
        .unwrap_or(Kind::String);
    match parse(raw, kind) {
        Ok(value) => Ok(Override {
            var,
            section,
            key,
            value,
        }),
        Err(message) => Err(ConfigError::Env { var, message }),
    }
}

/// Parses one environment value as `kind`.
fn parse(raw: &str, kind: Kind) -> Result<toml::Value, String> {
    let trimmed = raw.trim();
    match kind {
        Kind::String => Ok(toml::Value::String(raw.to_string())),
        Kind::Integer => trimmed
            .replace('_', "")
            .parse::<i64>()
            .map(toml::Value::Integer)
            .map_err(|_| format!("expected a whole number, not {raw:?}")),
        Kind::Float => trimmed
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .map(toml::Value::Float)
            .ok_or_else(|| format!("expected a number such as 0.5, not {raw:?}")),
        Kind::Boolean => match trimmed.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(toml::Value::Boolean(true)),
            "false" | "0" | "no" | "off" => Ok(toml::Value::Boolean(false)),
            _ => Err(format!("expected true or false, not {raw:?}")),
        },
        Kind::List => {
            if trimmed.starts_with('[') {
                let items: Vec<serde_json::Value> =
                    serde_json::from_str(trimmed).map_err(|e| format!("not a JSON array: {e}"))?;
                items
                    .into_iter()
                    .map(|v| match v {
                        serde_json::Value::String(s) => Ok(toml::Value::String(s)),
                        other => Err(format!("expected a list of strings, found {other}")),
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(toml::Value::Array)
            } else {
                Ok(toml::Value::Array(
                    trimmed
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| toml::Value::String(s.to_string()))
                        .collect(),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_parses_and_refuses_what_it_should() {
        assert_eq!(
            parse("106540352242922", Kind::String).unwrap(),
            toml::Value::String("106540352242922".into())
        );
        assert_eq!(
            parse(" 42 ", Kind::Integer).unwrap(),
            toml::Value::Integer(42)
        );
        assert_eq!(
            parse("65_536", Kind::Integer).unwrap(),
            toml::Value::Integer(65536)
        );
        assert!(parse("4x", Kind::Integer).is_err());
        assert_eq!(parse("1", Kind::Float).unwrap(), toml::Value::Float(1.0));
        assert!(parse("NaN", Kind::Float).is_err());
        assert_eq!(
            parse("YES", Kind::Boolean).unwrap(),
            toml::Value::Boolean(true)
        );
        assert_eq!(
            parse("0", Kind::Boolean).unwrap(),
            toml::Value::Boolean(false)
        );
        assert!(parse("maybe", Kind::Boolean).is_err());
        let list = |v: toml::Value| {
            v.as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            list(parse("https://a.nl, https://b.nl,", Kind::List).unwrap()),
            ["https://a.nl", "https://b.nl"]
        );
        assert_eq!(
            list(parse(r#"["https://a.nl,x", "b"]"#, Kind::List).unwrap()),
            ["https://a.nl,x", "b"]
        );
        assert!(list(parse("", Kind::List).unwrap()).is_empty());
        assert!(parse("[1, 2]", Kind::List).is_err());
    }
}
