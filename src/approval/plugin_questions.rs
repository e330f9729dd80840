//! Questions plugins ask mid-call (`Call::elicit`) when the client cannot ask the person: they
//! go to the same approval inbox, where "approve" answers with the form's default values and
//! "deny" declines.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use rmcp::model::{ElicitRequestParams, ElicitResult, ElicitationAction};
use serde_json::{Map, Value};

use super::attention::Attention;
use super::inbox::{self, Question, Waited};
use crate::requester::{AskError, ElicitFallback, Requester};
use crate::state::State;
use crate::state::audit::digest;

/// The inbox fallback for plugins' questions.
pub struct PluginQuestions {
    state: State,
    wait: Duration,
    timeout: Duration,
    enabled: bool,
    attention: Arc<Attention>,
}

impl PluginQuestions {
    /// Questions kept in `state`'s inbox as `config` says (`approvals.inbox`, `.wait`,
    /// `.timeout`), announced through `attention`.
    pub fn new(
        state: State,
        config: &crate::config::ApprovalsConfig,
        attention: Arc<Attention>,
    ) -> Self {
        Self {
            state,
            wait: config.wait_for_answer(),
            timeout: config.timeout.get(),
            enabled: config.inbox,
            attention,
        }
    }
}

/// The plugin's message, then each field with the default an approval answers with, for the
/// person to read (escaped like a tool call's arguments, [`super::values`]).
fn summarize(asker: &str, params: &Value) -> (String, Map<String, Value>) {
    let message = params["message"].as_str().unwrap_or("(no message)");
    let mut defaults = Map::new();
    let mut lines = vec![format!(
        "The plugin {} asks, in its own words:",
        super::values::escape(asker, false)
    )];
    lines.extend(super::values::paragraph(message, "  ", 1000));
    lines.push("Approving answers with these values; denying declines:".into());
    if let Some(properties) = params["requestedSchema"]["properties"].as_object() {
        for (name, schema) in properties {
            match schema.get("default") {
                Some(value) => {
                    lines.extend(super::values::argument(name, value, "  "));
                    defaults.insert(name.clone(), value.clone());
                }
                None => lines.push(format!("  {} = (no default)", super::values::key(name))),
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
            let (summary, defaults) = summarize(asker, &json);
            let subject = format!("{asker}: question");
            let expires =
                chrono::Utc::now() + chrono::Duration::from_std(self.timeout).unwrap_or_default();
            let question = Question {
                subject: &subject,
                provider: asker,
                definition_hash: "-",
                args_sha256: &digest(&json.to_string()),
                text: &summary,
                arguments: None,
                asker: requester.asker(),
                client: None,
                expires,
            };
            match inbox::ask(
                &self.state,
                &question,
                requester,
                self.wait,
                &self.attention,
            )
            .await
            {
                Waited::Answered(row) if row.status == "approved" => {
                    let mut result = ElicitResult::new(ElicitationAction::Accept);
                    result.content = Some(Value::Object(defaults));
                    Ok(result)
                }
                Waited::Answered(_) => Ok(ElicitResult::new(ElicitationAction::Decline)),
                Waited::Cancelled | Waited::Open(_) => {
                    Ok(ElicitResult::new(ElicitationAction::Cancel))
                }
                Waited::Failed(why) => Err(AskError::Failed(why)),
            }
        })
    }
}
