//! Intents: what a citizen wants, one YAML file each under `intents/`, with the action it
//! leads to, the department that owns it and example utterances to train the classifier on.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::diagnostic::{Diagnostic, Problem, line_of_key};

/// What Loket does with a message. Intents lead to one of these; the dialogue adds `clarify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Answer,
    Clarify,
    Handoff,
    PrivacyRedirect,
    Smalltalk,
    Fallback,
}

impl Action {
    pub const ALL: [Action; 6] = [
        Action::Answer,
        Action::Clarify,
        Action::Handoff,
        Action::PrivacyRedirect,
        Action::Smalltalk,
        Action::Fallback,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Answer => "answer",
            Action::Clarify => "clarify",
            Action::Handoff => "handoff",
            Action::PrivacyRedirect => "privacy_redirect",
            Action::Smalltalk => "smalltalk",
            Action::Fallback => "fallback",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("unknown action {s:?}"))
    }
}

/// What an intent means to the dialogue beyond its action: the few intents whose replies
/// differ. Set with `role:` in the intent file, so a municipality may name its intents as
/// it likes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The citizen asks for a person.
    Person,
    /// A complaint: the handoff opens with a word of regret (`complaint_prefix`).
    Complaint,
    /// A distressing or complicated personal situation: a warm handoff
    /// (`situation_prefix`) instead of a standard answer.
    Situation,
    /// Thanks: answered with `thanks` instead of the greeting.
    Thanks,
    /// A question about the citizen's own case or file (is my passport ready, why is my
    /// benefit lower): only someone who looks into that file can answer it, so the redirect
    /// says where the citizen sees it (`privacy_own_case`) instead of `privacy_about_data`.
    OwnCase,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Person,
        Role::Complaint,
        Role::Situation,
        Role::Thanks,
        Role::OwnCase,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Person => "person",
            Role::Complaint => "complaint",
            Role::Situation => "situation",
            Role::Thanks => "thanks",
            Role::OwnCase => "own_case",
        }
    }

    /// The action an intent with this role must have: the dialogue only looks at the role
    /// within that action's rule.
    pub fn action(self) -> Action {
        match self {
            Role::Person | Role::Complaint | Role::Situation => Action::Handoff,
            Role::Thanks => Action::Smalltalk,
            Role::OwnCase => Action::PrivacyRedirect,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Intent {
    pub id: String,
    pub description: String,
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    pub department: String,
    pub examples: Vec<String>,
    #[serde(skip)]
    pub source: PathBuf,
    #[serde(skip)]
    pub examples_line: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IntentFile {
    id: String,
    #[serde(default)]
    description: String,
    action: String,
    #[serde(default)]
    role: Option<String>,
    department: String,
    examples: Vec<String>,
}

/// The fewest examples an intent needs for the classifier to learn it reliably.
pub const MIN_EXAMPLES: usize = 20;

pub fn parse_intent(path: &Path, text: &str) -> Result<Intent, Vec<Diagnostic>> {
    let file: IntentFile = serde_yaml::from_str(text).map_err(|e| {
        let line = e.location().map(|l| l.line()).unwrap_or(1);
        let msg = e.to_string();
        let (problem, hint) = if msg.contains("missing field") {
            (
                Problem::MissingField,
                "elk intentbestand heeft id, action, department en examples nodig",
            )
        } else if msg.contains("unknown field") {
            (
                Problem::UnknownField,
                "bekende velden: id, description, action, role, department, examples",
            )
        } else {
            (
                Problem::Syntax,
                "controleer het inspringen, en zet voorbeelden met `: ` of met een leesteken vooraan tussen aanhalingstekens",
            )
        };
        vec![Diagnostic::error(problem, path, line, format!("ongeldig intentbestand: {msg}"), hint)]
    })?;
    let mut diags = Vec::new();
    let line = |key: &str| line_of_key(text, key).unwrap_or(1);
    let action = match file.action.parse::<Action>() {
        Ok(Action::Clarify) | Err(_) => {
            diags.push(Diagnostic::error(
                Problem::InvalidValue,
                path,
                line("action"),
                format!("onbekende action {:?}", file.action),
                "kies uit: answer, handoff, privacy_redirect, smalltalk, fallback",
            ));
            Action::Fallback
        }
        Ok(a) => a,
    };
    let role = match file.role.as_deref().map(str::trim) {
        None => None,
        Some(r) => match Role::ALL.into_iter().find(|x| x.as_str() == r) {
            Some(role) if role.action() != action && diags.is_empty() => {
                diags.push(Diagnostic::error(
                    Problem::InvalidValue,
                    path,
                    line("role"),
                    format!(
                        "role `{r}` past niet bij action `{action}`: een intent met deze role heeft action `{}`",
                        role.action()
                    ),
                    format!("zet action op {} of haal de role weg", role.action()),
                ));
                None
            }
            Some(role) => Some(role),
            None => {
                diags.push(Diagnostic::error(
                    Problem::InvalidValue,
                    path,
                    line("role"),
                    format!("onbekende role {r:?}"),
                    "kies uit: person (wil een medewerker), complaint (klacht), situation (moeilijke persoonlijke situatie), thanks (bedankje), own_case (vraag over de eigen zaak of het eigen dossier); of laat role weg",
                ));
                None
            }
        },
    };
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    if stem != file.id {
        diags.push(Diagnostic::error(
            Problem::InvalidValue,
            path,
            line("id"),
            format!(
                "id `{}` verschilt van de bestandsnaam `{stem}.yaml`",
                file.id
            ),
            format!("noem het bestand `{}.yaml` of verander de id", file.id),
        ));
    }
    let examples: Vec<String> = file
        .examples
        .into_iter()
        .map(|e| e.trim().to_string())
        .filter(|e| !e.is_empty())
        .collect();
    if !diags.is_empty() {
        return Err(diags);
    }
    Ok(Intent {
        id: file.id,
        description: file.description,
        action,
        role,
        department: file.department,
        examples,
        source: path.to_path_buf(),
        examples_line: line("examples"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(id: &str, action: &str, role: &str) -> Result<Intent, Vec<Diagnostic>> {
        let text =
            format!("id: {id}\naction: {action}\n{role}department: kcc\nexamples:\n  - hallo\n");
        parse_intent(Path::new(&format!("intents/{id}.yaml")), &text)
    }

    #[test]
    fn a_role_is_read_and_optional() {
        let i = parse("klacht", "handoff", "role: complaint\n").unwrap();
        assert_eq!(i.role, Some(Role::Complaint));
        let i = parse("bedankt", "smalltalk", "role: thanks\n").unwrap();
        assert_eq!(i.role, Some(Role::Thanks));
        assert_eq!(parse("klacht", "handoff", "").unwrap().role, None);
    }

    #[test]
    fn an_unknown_role_is_reported_with_its_line() {
        let d = parse("klacht", "handoff", "role: klager\n").unwrap_err();
        assert_eq!(d.len(), 1, "{d:#?}");
        assert_eq!((d[0].problem, d[0].line), (Problem::InvalidValue, 3));
        assert!(d[0].message.contains("klager"), "{}", d[0].message);
        assert!(d[0].hint.contains("complaint"), "{}", d[0].hint);
    }

    #[test]
    fn a_role_that_does_not_fit_the_action_is_reported() {
        let d = parse("bedankt", "answer", "role: thanks\n").unwrap_err();
        assert_eq!((d[0].problem, d[0].line), (Problem::InvalidValue, 3));
        assert!(d[0].message.contains("smalltalk"), "{}", d[0].message);
    }
}
