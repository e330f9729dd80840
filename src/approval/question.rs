//! What the person is asked: a readable summary of a call, the elicitation form with its four
//! answers, and reading the answer back.

use rmcp::model::{ElicitRequestParams, ElicitResult, ElicitationAction, JsonObject};
use serde_json::{Value, json};

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

const MAX_VALUE: usize = 200;
const MAX_SUMMARY: usize = 1500;

/// The arguments, one `name: value` line each, long values cut.
pub fn summarize(arguments: &JsonObject) -> String {
    if arguments.is_empty() {
        return "(no arguments)".to_string();
    }
    let mut out = String::new();
    for (name, value) in arguments {
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let cut: String = text.chars().take(MAX_VALUE).collect();
        let more = if cut.len() < text.len() { "…" } else { "" };
        out.push_str(&format!("{name}: {cut}{more}\n"));
        if out.len() > MAX_SUMMARY {
            out.push_str("…\n");
            break;
        }
    }
    out.trim_end().to_string()
}

/// The elicitation that asks about one call.
pub fn form(tool: &str, provider: &str, summary: &str) -> ElicitRequestParams {
    let message = format!(
        "switchboard: allow the tool {tool} (from {provider}) to run with these arguments?\n\n{summary}"
    );
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
        let params = form("files__delete", "files", "path: /tmp/x");
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

    #[test]
    fn summaries_are_readable_and_bounded() {
        let args = json!({"path": "/home/a", "content": "x".repeat(5000)});
        let summary = summarize(args.as_object().unwrap());
        assert!(summary.contains("path: /home/a"));
        assert!(summary.len() < 600, "{}", summary.len());
    }
}
