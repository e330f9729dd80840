//! Questions plugins ask mid-call (`Call::elicit`) when the client cannot ask the person: they
//! go to the same approval inbox, where "approve" answers with the form's default values and
//! "deny" declines.

use std::time::Duration;

use futures::future::BoxFuture;
use rmcp::model::{ElicitRequestParams, ElicitResult, ElicitationAction};
use serde_json::{Map, Value};

use super::inbox::{self, Question, Waited};
use crate::requester::{AskError, ElicitFallback, Requester};
use crate::state::State;
use crate::state::audit::digest;

/// The inbox fallback for plugins' questions.
pub struct PluginQuestions {
    state: State,
    timeout: Duration,
    enabled: bool,
}

impl PluginQuestions {
    /// Questions kept in `state`'s inbox, waiting at most `timeout`; `enabled: false` refuses.
    pub fn new(state: State, timeout: Duration, enabled: bool) -> Self {
        Self {
            state,
            timeout,
            enabled,
        }
    }
}

/// The message, then each field with its default, for the person to read.
fn summarize(params: &Value) -> (String, Map<String, Value>) {
    let message = params["message"]
        .as_str()
        .unwrap_or("(no message)")
        .to_string();
    let mut defaults = Map::new();
    let mut lines = vec![message];
    if let Some(properties) = params["requestedSchema"]["properties"].as_object() {
        for (name, schema) in properties {
            let default = schema.get("default").cloned();
            let shown = default
                .as_ref()
                .map(Value::to_string)
                .unwrap_or_else(|| "(no default)".into());
            lines.push(format!("{name}: {shown}"));
            if let Some(value) = default {
                defaults.insert(name.clone(), value);
            }
        }
    }
    (lines.join("\n"), defaults)
}

impl ElicitFallback for PluginQuestions {
    fn elicit<'a>(
        &'a self,
        asker: &'a str,
        requester: &'a Requester,
        params: ElicitRequestParams,
    ) -> BoxFuture<'a, Result<ElicitResult, AskError>> {
        Box::pin(async move {
            if !self.enabled {
                return Err(AskError::NotSupported(
                    "the client cannot ask the person (no MCP elicitation) and the approval inbox is off (approvals.inbox)".into(),
                ));
            }
            let json = serde_json::to_value(&params).unwrap_or_default();
            let (summary, defaults) = summarize(&json);
            let subject = format!("{asker}: question");
            let session = requester
                .request_id()
                .split('/')
                .next()
                .unwrap_or("")
                .to_string();
            let question = Question {
                subject: &subject,
                provider: asker,
                definition_hash: "-",
                args_sha256: &digest(&json.to_string()),
                summary: &summary,
                session: &session,
            };
            match inbox::ask(&self.state, &question, requester, self.timeout).await {
                Waited::Answered(row) if row.status == "approved" => {
                    let mut result = ElicitResult::new(ElicitationAction::Accept);
                    result.content = Some(Value::Object(defaults));
                    Ok(result)
                }
                Waited::Answered(_) => Ok(ElicitResult::new(ElicitationAction::Decline)),
                Waited::Cancelled | Waited::TimedOut { .. } => {
                    Ok(ElicitResult::new(ElicitationAction::Cancel))
                }
                Waited::Failed(why) => Err(AskError::Failed(why)),
            }
        })
    }
}
