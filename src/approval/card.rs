//! The approval card: switchboard's own MCP App, for clients that render Apps (the
//! `io.modelcontextprotocol/ui` extension; Claude Desktop renders Apps but cannot elicit).
//!
//! For such a client every tool the policy may ask about declares the card
//! (`_meta.ui.resourceUri` = [`CARD_URI`]), so the host shows it as soon as the call starts,
//! while the call waits in the inbox. The card reads the question through the app-only tool
//! `switchboard__approval` (`_meta.ui.visibility: ["app"]`: the host keeps it from the model)
//! and answers with a single-use nonce bound to that question, and so to the call's
//! arguments' digest and to the asking session. The waiting call then runs or is refused; a
//! yes given after the call returned makes its repetition run once.
//!
//! An App is answered by the client application, not proven to be the person: the card
//! grants "once" and "this session"; "always" needs the local page or the CLI.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use rmcp::model::{
    CallToolResult, ClientCapabilities, ContentBlock, JsonObject, ReadResourceResult, Resource,
    ResourceContents, Tool,
};
use serde_json::{Value, json};

use super::attention::Attention;
use super::inbox;
use super::policy::{Decision, Policy, Subject};
use crate::audit::arguments_text;
use crate::provider::{Offer, Provider, ProviderError};
use crate::requester::Requester;
use crate::state::State;
use crate::state::approvals::Decided;
use crate::state::audit::digest;

/// The MCP Apps extension's identifier.
pub const EXTENSION: &str = "io.modelcontextprotocol/ui";
/// The MIME type of an App's HTML.
pub const MIME_TYPE: &str = "text/html;profile=mcp-app";
/// The card's resource.
pub const CARD_URI: &str = "ui://switchboard/approval";
/// The provider's name (in the audit, in `approvals.rules`).
pub const PROVIDER: &str = "switchboard-approvals";
/// The app-only tool, as clients see it (prefix `switchboard`, local name `approval`).
pub const TOOL: &str = "switchboard__approval";

/// How long the card waits for its call's question to appear (the host starts the call and
/// renders the card at the same time).
const FIND_WAIT: Duration = Duration::from_secs(10);

const CARD_HTML: &str = include_str!("card.html");

/// Whether a client that declared `capabilities` renders switchboard's App.
pub fn client_shows_apps(capabilities: &ClientCapabilities) -> bool {
    capabilities
        .extensions
        .as_ref()
        .and_then(|e| e.get(EXTENSION))
        .is_some_and(|settings| {
            settings
                .get("mimeTypes")
                .and_then(Value::as_array)
                .is_some_and(|types| types.iter().any(|t| t.as_str() == Some(MIME_TYPE)))
        })
}

/// The tools as a client sees them: for a client that renders Apps, each tool the policy may
/// ask about declares the card (unless it declares an App of its own, or the inbox the card
/// answers is off: `shows_apps` is false then); for any other client, the app-only card tool
/// is left out.
pub fn present<'a>(
    tools: impl Iterator<Item = (&'a Tool, &'a dyn Provider)>,
    policy: &Policy,
    shows_apps: bool,
) -> Vec<Tool> {
    tools
        .filter(|(tool, _)| shows_apps || tool.name != TOOL)
        .map(|(tool, provider)| {
            let mut tool = tool.clone();
            if !shows_apps || provider.answers_approvals() {
                return tool;
            }
            let verdict = policy.decide(&Subject {
                tool: &tool.name,
                provider: provider.name(),
                provider_trusted: provider.trusts_annotations(),
                annotations: tool.annotations.as_ref(),
            });
            let has_app = tool.meta.as_ref().is_some_and(|m| {
                m.get("ui")
                    .is_some_and(|ui| ui.get("resourceUri").is_some())
            });
            if verdict.decision == Decision::Ask && !has_app {
                let mut meta = tool.meta.take().unwrap_or_default();
                meta.insert("ui".into(), json!({"resourceUri": CARD_URI}));
                tool.meta = Some(meta);
            }
            tool
        })
        .collect()
}

/// The card's provider: the app-only tool and the card's HTML.
pub struct CardProvider {
    state: State,
    attention: Arc<Attention>,
    keep_text: bool,
}

impl CardProvider {
    /// A card answering questions in `state`'s inbox.
    pub fn new(state: State, attention: Arc<Attention>, keep_text: bool) -> Self {
        Self {
            state,
            attention,
            keep_text,
        }
    }

    fn tool() -> Tool {
        let schema = json!({
            "type": "object",
            "properties": {
                "op": {"type": "string", "enum": ["question", "answer"]},
                "tool": {"type": "string", "description": "The waiting call's tool"},
                "arguments": {"type": "object", "description": "The waiting call's arguments"},
                "id": {"type": "string"},
                "nonce": {"type": "string"},
                "decision": {
                    "type": "string",
                    "description": "once, session or deny (\"always\" is given on the approval page or with the CLI)"
                }
            },
            "required": ["op"],
            "additionalProperties": false
        });
        let mut tool = Tool::new(
            "approval",
            "switchboard's approval card: reads the question about a waiting call and answers it. Only the card calls this.",
            schema.as_object().cloned().unwrap_or_default(),
        );
        let mut meta = rmcp::model::MetaObject::default();
        meta.insert(
            "ui".into(),
            json!({"resourceUri": CARD_URI, "visibility": ["app"]}),
        );
        tool.meta = Some(meta);
        tool
    }

    /// `question`: the open question about the card's call, with a fresh nonce.
    async fn question(
        &self,
        arguments: &JsonObject,
        requester: &Requester,
    ) -> Result<Value, ProviderError> {
        if requester.can_elicit() {
            return Ok(json!({
                "status": "elicitation",
                "text": "Your client asks you about this call itself."
            }));
        }
        let tool = arguments.get("tool").and_then(Value::as_str);
        let call_arguments = arguments
            .get("arguments")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let args_sha256 = digest(&arguments_text(&call_arguments));
        let deadline = tokio::time::Instant::now() + FIND_WAIT;
        let row = loop {
            let asked = self.attention.asked();
            tokio::pin!(asked);
            asked.as_mut().enable();
            let found = tokio::task::block_in_place(|| {
                self.state
                    .question_for(requester.asker(), tool, &args_sha256)
            })
            .map_err(|e| ProviderError::Failed(format!("cannot read the approval inbox: {e}")))?;
            if let Some(row) = found {
                break row;
            }
            tokio::select! {
                () = &mut asked => {}
                () = tokio::time::sleep_until(deadline) => return Ok(json!({
                    "status": "none",
                    "text": "switchboard is not asking about this call: the policy or a remembered approval let it run, or it was answered already."
                })),
                () = requester.cancellation().cancelled() => return Err(ProviderError::Cancelled),
            }
        };
        let nonce = inbox::new_id() + &inbox::new_id() + &inbox::new_id();
        let given = tokio::task::block_in_place(|| self.state.give_nonce(&row.id, &nonce))
            .map_err(|e| ProviderError::Failed(format!("cannot record the card's nonce: {e}")))?;
        if !given {
            return Ok(
                json!({"status": "gone", "text": "The question was answered or expired meanwhile."}),
            );
        }
        Ok(json!({
            "status": "open",
            "id": row.id,
            "nonce": nonce,
            "tool": row.tool,
            "text": row.summary,
            "expires": crate::state::local_time(&row.expires),
            "page": self.attention.page_url().await,
        }))
    }

    /// `answer`: decide the question the nonce was given for.
    fn answer(
        &self,
        arguments: &JsonObject,
        requester: &Requester,
    ) -> Result<Value, ProviderError> {
        let field = |name: &str| {
            arguments
                .get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| ProviderError::InvalidInput(format!("`{name}` is required")))
        };
        let (id, nonce, decision) = (field("id")?, field("nonce")?, field("decision")?);
        let (status, remember) = match decision {
            "once" => ("approved", None),
            "session" => ("approved", Some("session")),
            "deny" => ("denied", None),
            other => {
                return Err(ProviderError::InvalidInput(format!(
                    "the card answers once, session or deny, not {other:?}; \"always\" is given on the approval page or with the CLI"
                )));
            }
        };
        let by = format!("the approval card ({})", requester.asker());
        let answer = Decided {
            status,
            remember,
            decided_by: &by,
            keep_text: self.keep_text,
            card: Some((nonce, requester.asker())),
        };
        let decided = tokio::task::block_in_place(|| inbox::decide(&self.state, id, &answer))
            .map_err(|e| ProviderError::Failed(format!("cannot record the answer: {e}")))?;
        if !decided {
            return Ok(json!({
                "outcome": "refused",
                "text": "That answer was not taken: the question was answered or expired, or the card's nonce was used already."
            }));
        }
        Ok(json!({"outcome": status}))
    }
}

fn structured(value: Value) -> CallToolResult {
    let text = value
        .get("text")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| value.to_string());
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = Some(value);
    result
}

impl Provider for CardProvider {
    fn name(&self) -> &str {
        PROVIDER
    }

    fn default_prefix(&self) -> String {
        "switchboard".into()
    }

    fn trusts_annotations(&self) -> bool {
        true
    }

    fn answers_approvals(&self) -> bool {
        true
    }

    fn call_timeout(&self) -> Duration {
        FIND_WAIT + Duration::from_secs(5)
    }

    fn offer(&self) -> BoxFuture<'_, Result<Offer, ProviderError>> {
        let resource = Resource::new(CARD_URI, "approval")
            .with_title("switchboard approval card")
            .with_description("The question about a call waiting for the person's approval")
            .with_mime_type(MIME_TYPE);
        Box::pin(async move {
            Ok(Offer {
                tools: vec![Self::tool()],
                resources: vec![resource],
                ..Offer::default()
            })
        })
    }

    fn call_tool(
        &self,
        tool: String,
        arguments: JsonObject,
        requester: Requester,
    ) -> BoxFuture<'_, Result<CallToolResult, ProviderError>> {
        Box::pin(async move {
            if tool != "approval" {
                return Err(ProviderError::NotFound(format!("no tool named {tool}")));
            }
            if !requester.shows_apps() {
                return Err(ProviderError::NotFound(format!(
                    "no tool named {TOOL}: only switchboard's approval card calls it, in a client that renders MCP Apps"
                )));
            }
            let value = match arguments.get("op").and_then(Value::as_str) {
                Some("question") => self.question(&arguments, &requester).await?,
                Some("answer") => self.answer(&arguments, &requester)?,
                _ => {
                    return Err(ProviderError::InvalidInput(
                        "`op` is `question` or `answer`".into(),
                    ));
                }
            };
            Ok(structured(value))
        })
    }

    fn read_resource(
        &self,
        uri: String,
        _requester: Requester,
    ) -> BoxFuture<'_, Result<ReadResourceResult, ProviderError>> {
        Box::pin(async move {
            if uri != CARD_URI {
                return Err(ProviderError::NotFound(format!("no resource {uri}")));
            }
            let contents = ResourceContents::text(CARD_HTML, uri).with_mime_type(MIME_TYPE);
            Ok(ReadResourceResult::new(vec![contents]))
        })
    }
}
