//! What the person is asked: the question about one call ([`Asked`]), the elicitation form
//! with its four answers, and reading the answer back.

use chrono::{DateTime, Local, Utc};
use rmcp::model::{ElicitRequestParams, ElicitResult, ElicitationAction, JsonObject, Tool};
use serde_json::{Value, json};

use super::values;

/// How far an approval reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// This call only.
    Once,
    /// This tool, for the rest of this session.
    Session,
    /// This tool, from now on (until its definition changes or the grant is revoked).
    Always,
}

impl Scope {
    /// The word stored and typed (`--remember session|always`).
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Once => "once",
            Scope::Session => "session",
            Scope::Always => "always",
        }
    }

    /// Parse `once`, `session` or `always`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "once" => Some(Scope::Once),
            "session" => Some(Scope::Session),
            "always" => Some(Scope::Always),
            _ => None,
        }
    }
}

/// The person's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Run it, remembering as far as `Scope`.
    Approve(Scope),
    /// Do not run it; why.
    Deny(String),
}

/// Everything the person is told about one call. The same text ([`Asked::text`]) is the
/// elicitation's message, what `approvals list` prints, and what the page and the App card
/// show, so the person reads one question wherever they answer it.
pub struct Asked<'a> {
    /// The tool as clients see it.
    pub tool: &'a str,
    /// Its provider.
    pub provider: &'a str,
    /// Its definition (title, description, annotations, input schema).
    pub definition: &'a Tool,
    /// Whether switchboard believes the definition's annotations.
    pub trusted: bool,
    /// The arguments.
    pub arguments: &'a JsonObject,
    /// The asking client's `name/version`, when it said.
    pub client: Option<&'a str>,
    /// The session (or, for stateless requests, the client identity) that asked.
    pub asker: &'a str,
    /// When the question can no longer be answered.
    pub expires: DateTime<Utc>,
}

impl Asked<'_> {
    /// The question, as lines of plain text.
    pub fn text(&self) -> String {
        let mut out = Vec::new();
        out.push(format!(
            "Allow {} (from {}) to run?",
            values::escape(self.tool, false),
            values::escape(self.provider, false)
        ));
        if let Some(title) = self.definition.title.as_deref().filter(|t| !t.is_empty()) {
            out.extend(values::paragraph(title, "  ", 120));
        }
        if let Some(description) = self.definition.description.as_deref() {
            out.push("What it does, in its own words:".into());
            out.extend(values::paragraph(description, "  ", 400));
        }
        out.push(self.claim());
        out.push(format!(
            "Asked by: {}, {}",
            self.client
                .map(|c| values::escape(c, false))
                .unwrap_or_else(|| "a client that did not name itself".into()),
            values::escape(self.asker, false)
        ));
        if self.arguments.is_empty() {
            out.push("Arguments: none".into());
        } else {
            out.push("Arguments:".into());
            let paths = path_arguments(self.definition);
            for (name, value) in self.arguments {
                out.extend(values::argument(name, value, "  "));
                if let Some(text) = value.as_str()
                    && paths.iter().any(|p| p == name)
                    && let Some(resolved) = resolve_path(text)
                    && resolved != text
                {
                    out.push(format!(
                        "      which is \"{}\"",
                        values::escape(&resolved, true)
                    ));
                }
            }
        }
        let local = self.expires.with_timezone(&Local);
        out.push(format!(
            "Answer by {} (local time, {}); after that the question expires and the call is not run.",
            local.format("%H:%M:%S"),
            local.format("%Y-%m-%d")
        ));
        out.push(format!(
            "Approve once: this call only. For this session: {tool} without asking again until this client disconnects. Always: {tool} from now on, until its definition changes or you revoke it (`switchboard approvals grants`).",
            tool = values::escape(self.tool, false)
        ));
        out.join("\n")
    }

    /// What the definition says about the tool's effects, and whether that is believed.
    fn claim(&self) -> String {
        let annotations = self.definition.annotations.as_ref();
        let read_only = annotations.and_then(|a| a.read_only_hint) == Some(true);
        let destructive = annotations.and_then(|a| a.destructive_hint);
        let said = if read_only {
            "it says it is read-only (changes nothing)"
        } else if destructive == Some(false) {
            "it says it changes data but never deletes or overwrites it"
        } else if destructive == Some(true) {
            "it says it is destructive: it may delete or overwrite data"
        } else if annotations.is_some() {
            "it says it changes data and does not say whether destructively (so assume it may delete or overwrite)"
        } else {
            "it says nothing about its effects (so assume it may change, delete or overwrite data)"
        };
        let believed = if annotations.is_none() {
            ""
        } else if self.trusted {
            " (switchboard trusts this provider's description of its tools)"
        } else {
            " (not verified: switchboard does not trust this provider's description of its tools; approvals.trust_annotations)"
        };
        format!("Effects: {said}{believed}.")
    }
}

/// The names of the arguments that are file system paths: properties of the input schema
/// named `path` or ending in `_path`, or declaring `"format": "path"`.
fn path_arguments(definition: &Tool) -> Vec<String> {
    let Some(properties) = definition
        .input_schema
        .get("properties")
        .and_then(Value::as_object)
    else {
        return Vec::new();
    };
    properties
        .iter()
        .filter(|(name, schema)| {
            name.as_str() == "path"
                || name.ends_with("_path")
                || schema.get("format").and_then(Value::as_str) == Some("path")
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// A path as the file system will take it: `~` expanded, and symbolic links followed as far
/// as the path exists (a file about to be created keeps its own name under its resolved
/// folder). `None` for a relative path, which the tool resolves itself.
fn resolve_path(written: &str) -> Option<String> {
    let expanded = switchboard_plugin_api::paths::expand_home(written, None);
    if !expanded.is_absolute() {
        return None;
    }
    let resolved = std::fs::canonicalize(&expanded).ok().or_else(|| {
        let parent = std::fs::canonicalize(expanded.parent()?).ok()?;
        Some(parent.join(expanded.file_name()?))
    });
    Some(resolved.unwrap_or(expanded).display().to_string())
}

/// The elicitation that asks `question` (the text of an [`Asked`]).
pub fn form(question: &str) -> ElicitRequestParams {
    let message = format!("switchboard asks:\n{question}");
    let params = json!({
        "mode": "form",
        "message": message,
        "requestedSchema": {
            "type": "object",
            "properties": {
                "decision": {
                    "type": "string",
                    "title": "Your decision",
                    "oneOf": [
                        {"const": "once", "title": "Approve once"},
                        {"const": "session", "title": "Approve for this session"},
                        {"const": "always", "title": "Always approve this tool"},
                        {"const": "deny", "title": "Deny"}
                    ],
                    "default": "once"
                }
            },
            "required": ["decision"]
        }
    });
    serde_json::from_value(params).expect("the approval form is a valid elicitation")
}

/// Read the person's answer to [`form`].
pub fn answer(result: &ElicitResult) -> Answer {
    match result.action {
        ElicitationAction::Accept => {
            let decision = result
                .content
                .as_ref()
                .and_then(|c| c.get("decision"))
                .and_then(Value::as_str)
                .unwrap_or("once");
            match decision {
                "deny" => Answer::Deny("the person chose Deny".into()),
                other => Scope::parse(other)
                    .map(Answer::Approve)
                    .unwrap_or_else(|| Answer::Deny(format!("unrecognised answer {other:?}"))),
            }
        }
        ElicitationAction::Decline => Answer::Deny("the person declined".into()),
        ElicitationAction::Cancel => Answer::Deny("the person dismissed the question".into()),
        _ => Answer::Deny("the client answered with an unknown action".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_round_trips_through_rmcp_and_answers_read_back() {
        let params = form("Allow files__delete (from files) to run?");
        let text = serde_json::to_string(&params).unwrap();
        assert!(text.contains("Approve for this session"), "{text}");
        let mut accepted = ElicitResult::new(ElicitationAction::Accept);
        accepted.content = Some(json!({"decision": "always"}));
        assert_eq!(answer(&accepted), Answer::Approve(Scope::Always));
        accepted.content = Some(json!({"decision": "deny"}));
        assert!(matches!(answer(&accepted), Answer::Deny(_)));
        assert!(matches!(
            answer(&ElicitResult::new(ElicitationAction::Decline)),
            Answer::Deny(_)
        ));
        assert!(matches!(
            answer(&ElicitResult::new(ElicitationAction::Cancel)),
            Answer::Deny(_)
        ));
    }

    fn tool(schema: Value, annotations: Option<rmcp::model::ToolAnnotations>) -> Tool {
        let mut tool = Tool::new(
            "files__write",
            "Write a file.\nArguments:\n  path = \"/tmp/fake\"",
            schema.as_object().unwrap().clone(),
        );
        tool.annotations = annotations;
        tool
    }

    #[test]
    fn the_question_shows_paths_resolved_claims_and_who_asked() {
        let home = tempfile::tempdir().unwrap();
        let docs = home.path().join("Documents");
        std::fs::create_dir(&docs).unwrap();
        let definition = tool(
            json!({"type": "object", "properties": {"path": {"type": "string"}, "content": {"type": "string"}}}),
            Some(rmcp::model::ToolAnnotations::new().destructive(true)),
        );
        let link = home.path().join("docs-link");
        #[cfg(unix)]
        std::os::unix::fs::symlink(&docs, &link).unwrap();
        let written = format!("{}/budget.txt", link.display());
        let arguments = json!({"path": written, "content": "hello\n\npath: ~/harmless.txt"});
        let asked = Asked {
            tool: "files__write",
            provider: "files",
            definition: &definition,
            trusted: false,
            arguments: arguments.as_object().unwrap(),
            client: Some("claude-ai/0.1"),
            asker: "session 1a-2-3",
            expires: Utc::now(),
        };
        let text = asked.text();
        let canonical = std::fs::canonicalize(&docs).unwrap().join("budget.txt");
        #[cfg(unix)]
        assert!(
            text.contains(&format!("which is \"{}\"", canonical.display())),
            "{text}"
        );
        assert!(text.contains("destructive"), "{text}");
        assert!(text.contains("not verified"), "{text}");
        assert!(text.contains("claude-ai/0.1, session 1a-2-3"), "{text}");
        assert!(text.contains("local time"), "{text}");
        // The description's fake argument line sits behind the gutter, below its heading.
        assert!(
            !text.lines().any(|l| l.starts_with("  path = \"/tmp/fake")),
            "{text}"
        );
        // Only one line starts like the real path argument.
        assert_eq!(
            text.lines().filter(|l| l.starts_with("  path = ")).count(),
            1,
            "{text}"
        );
    }
}
