//! Human approval of sensitive calls: the policy ([`policy`]), what the person is asked
//! ([`question`]), the inbox for clients that cannot ask ([`inbox`]), definition hashes that
//! bind grants ([`definition`]), and [`Gate`], which decides one call.
//!
//! The gate runs inside the pipeline's approval layer. A call the policy allows runs; one it
//! denies does not; one it asks about runs only after a matching grant or a yes, obtained by
//! MCP elicitation (classic sessions), the input-required round trip (2026-07-28 requests), or
//! the inbox (everyone else). Every decision is an audit row linked to the call.

#![allow(deprecated)] // MCP log levels are deprecated in 2026-07-28 only.

pub mod definition;
pub mod inbox;
pub mod page;
pub mod policy;
pub mod question;
mod questions;

use std::time::{Duration, Instant};

use rmcp::model::{
    ElicitRequest, ElicitResult, InputRequest, InputRequests, InputRequiredResult, InputResponses,
};
use rmcp::model::{RequestStateCodec, SealOptions};
use serde::{Deserialize, Serialize};

use crate::config::ApprovalsConfig;
use crate::pipeline::audit::{Auditor, Target};
use crate::requester::Requester;
use crate::session::SessionInfo;
use crate::state::approvals::{ApprovalRow, GrantRow};

use crate::state::{Outcome, State, now};
use policy::{Decision, Policy, Subject};
use question::{Answer, Scope};
pub use questions::PluginQuestions;

/// The key of the approval question in an input-required round trip.
const INPUT_KEY: &str = "switchboard/approval";

/// What the gate needs to know about a call.
pub struct Call<'a> {
    /// The tool as clients see it.
    pub tool: &'a str,
    /// The tool's definition.
    pub definition: &'a rmcp::model::Tool,
    /// Its provider's name.
    pub provider: &'a str,
    /// Whether the provider's annotations are trusted by default.
    pub provider_trusted: bool,
    /// The arguments.
    pub arguments: &'a rmcp::model::JsonObject,
    /// The arguments' JSON text digest.
    pub args_sha256: &'a str,
    /// Who asks.
    pub session: &'a SessionInfo,
    /// The way back to the client.
    pub requester: &'a Requester,
    /// Answers to an earlier input-required result (2026-07-28 retries).
    pub retry: Option<&'a Retry>,
}

/// A client's retry after an input-required result.
#[derive(Clone, Debug, Default)]
pub struct Retry {
    /// The answers, by key.
    pub responses: InputResponses,
    /// The sealed state we handed out.
    pub state: Option<String>,
}

/// The gate's verdict on one call.
#[derive(Debug)]
pub enum Clearance {
    /// Run it.
    Run,
    /// Do not run it; the message tells the model why and what the person can do.
    Refuse(String),
    /// Answer with this input-required result and wait for the retry.
    NeedInput(InputRequiredResult),
}

/// What the sealed request state of a round trip binds to.
#[derive(Serialize, Deserialize, PartialEq, Eq)]
struct Sealed {
    tool: String,
    definition: String,
    args: String,
}

/// Decides calls.
pub struct Gate {
    policy: Policy,
    config: ApprovalsConfig,
    state: State,
    auditor: Auditor,
    codec: Option<RequestStateCodec>,
}

impl Gate {
    /// A gate with `config`, recording into `state` (whose folder holds the inbox signals).
    pub fn new(config: &ApprovalsConfig, state: State, auditor: Auditor) -> Self {
        let mut key = [0u8; 32];
        let codec = getrandom::fill(&mut key)
            .ok()
            .and_then(|()| RequestStateCodec::try_new(key.to_vec()).ok());
        Self {
            policy: Policy::new(config),
            config: config.clone(),
            state,
            auditor,
            codec,
        }
    }

    /// Decide `call`: by policy, then grants, then by asking.
    pub async fn decide(&self, call: &Call<'_>) -> Clearance {
        let started = Instant::now();
        let verdict = self.policy.decide(&Subject {
            tool: call.tool,
            provider: call.provider,
            provider_trusted: call.provider_trusted,
            annotations: call.definition.annotations.as_ref(),
        });
        match verdict.decision {
            Decision::Allow => {
                self.record(call, true, &verdict.reason, started);
                Clearance::Run
            }
            Decision::Deny => {
                self.record(call, false, &verdict.reason, started);
                Clearance::Refuse(format!(
                    "Not run: switchboard's approval policy refuses {} ({}).",
                    call.tool, verdict.reason
                ))
            }
            Decision::Ask => self.ask(call, &verdict.reason, started).await,
        }
    }

    async fn ask(&self, call: &Call<'_>, why: &str, started: Instant) -> Clearance {
        let hash = definition::hash(call.definition);
        match self
            .blocking(|s| s.matching_grant(call.tool, &hash, &call.session.id))
            .await
        {
            Ok(Some(grant)) => {
                self.record(
                    call,
                    true,
                    &format!("{} grant {}", grant.scope, grant.id),
                    started,
                );
                return Clearance::Run;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read approval grants; asking instead"),
        }
        let summary = question::summarize(call.arguments);
        let requester = call.requester;
        let answer = if requester.can_elicit() && requester.is_stateless() {
            match self.round_trip(call, &hash, &summary) {
                Ok(answer) => answer,
                Err(need_input) => return need_input,
            }
        } else if requester.can_elicit() {
            self.elicit(call, &summary).await
        } else if self.config.inbox {
            match self.inbox(call, &hash, &summary).await {
                Ok(answer) => answer,
                Err(message) => {
                    self.record(
                        call,
                        false,
                        "timeout: nobody answered in the inbox",
                        started,
                    );
                    return Clearance::Refuse(message);
                }
            }
        } else {
            Answer::Deny(
                "the client cannot ask the person (no MCP elicitation) and the approval inbox is off (approvals.inbox)"
                    .into(),
            )
        };
        match answer {
            Answer::Approve(scope) => {
                if scope != Scope::Once {
                    self.remember(call, &hash, scope, "the person, when asked")
                        .await;
                }
                self.record(
                    call,
                    true,
                    &format!("the person approved ({})", scope.as_str()),
                    started,
                );
                Clearance::Run
            }
            Answer::Deny(reason) => {
                self.record(call, false, &reason, started);
                Clearance::Refuse(format!(
                    "Not run: {} was not approved: {reason} (policy: {why}).",
                    call.tool
                ))
            }
        }
    }

    async fn elicit(&self, call: &Call<'_>, summary: &str) -> Answer {
        let form = question::form(call.tool, call.provider, summary);
        let timeout = self.config.timeout.get();
        match tokio::time::timeout(timeout, call.requester.elicit(form)).await {
            Ok(Ok(result)) => question::answer(&result),
            Ok(Err(e)) => Answer::Deny(format!("asking the person failed: {e}")),
            Err(_) => Answer::Deny(format!("no answer within {}", human(timeout))),
        }
    }

    /// The 2026-07-28 way: answer with an input-required result carrying the form and a
    /// sealed state bound to this tool, definition and arguments; the retry carries the answer.
    fn round_trip(&self, call: &Call<'_>, hash: &str, summary: &str) -> Result<Answer, Clearance> {
        let Some(codec) = &self.codec else {
            return Ok(Answer::Deny(
                "no randomness to seal the approval round trip".into(),
            ));
        };
        let expected = Sealed {
            tool: call.tool.to_string(),
            definition: hash.to_string(),
            args: call.args_sha256.to_string(),
        };
        let session = call.session.id.as_bytes();
        if let Some(retry) = call.retry
            && let Some(response) = retry.responses.get(INPUT_KEY)
        {
            let opened = retry
                .state
                .as_deref()
                .map(|sealed| codec.open_json_with::<Sealed>(sealed, session));
            return match opened {
                Some(Ok(sealed)) if sealed == expected => {
                    match serde_json::from_value::<ElicitResult>(response.clone()) {
                        Ok(result) => Ok(question::answer(&result)),
                        Err(e) => Ok(Answer::Deny(format!("the approval answer is not valid: {e}"))),
                    }
                }
                Some(Ok(_)) => Ok(Answer::Deny(
                    "the approval answer belongs to another call (tool, definition or arguments differ)".into(),
                )),
                Some(Err(e)) => Ok(Answer::Deny(format!("the approval state is not valid: {e}"))),
                None => Ok(Answer::Deny("the approval answer came without its request state".into())),
            };
        }
        let options = SealOptions::new()
            .ttl(self.config.timeout.get())
            .associated_data(session);
        let sealed = match codec.seal_json_with(&expected, &options) {
            Ok(sealed) => sealed,
            Err(e) => {
                return Ok(Answer::Deny(format!(
                    "cannot seal the approval round trip: {e}"
                )));
            }
        };
        let mut requests = InputRequests::new();
        requests.insert(
            INPUT_KEY.to_string(),
            InputRequest::Elicitation(ElicitRequest::new(question::form(
                call.tool,
                call.provider,
                summary,
            ))),
        );
        Err(Clearance::NeedInput(InputRequiredResult::new(
            Some(requests),
            Some(sealed),
        )))
    }

    /// Ask through the inbox and wait. `Err` carries the refusal text on timeout.
    async fn inbox(&self, call: &Call<'_>, hash: &str, summary: &str) -> Result<Answer, String> {
        // An answer given after an earlier attempt timed out approves this retry.
        let earlier = self
            .blocking(|s| s.answered_approval(call.tool, hash, call.args_sha256))
            .await
            .ok()
            .flatten();
        if let Some(row) = earlier
            && let Ok(true) = self
                .blocking(|s| s.settle_approval(&row.id, &row.status, "consumed"))
                .await
        {
            return Ok(row_answer(&row));
        }
        let question = inbox::Question {
            subject: call.tool,
            provider: call.provider,
            definition_hash: hash,
            args_sha256: call.args_sha256,
            summary,
            session: &call.session.id,
        };
        let timeout = self.config.timeout.get();
        match inbox::ask(&self.state, &question, call.requester, timeout).await {
            inbox::Waited::Answered(row) => Ok(row_answer(&row)),
            inbox::Waited::Cancelled => {
                Ok(Answer::Deny("the call was cancelled while waiting".into()))
            }
            inbox::Waited::Failed(why) => Ok(Answer::Deny(why)),
            inbox::Waited::TimedOut { how } => Err(format!(
                "Not run: {} needs the person's approval and nobody answered within {}. Ask the person to {how}; then call the tool again with the same arguments.",
                call.tool,
                human(timeout)
            )),
        }
    }

    async fn remember(&self, call: &Call<'_>, hash: &str, scope: Scope, by: &str) {
        let grant = GrantRow {
            id: inbox::new_id(),
            tool: call.tool.to_string(),
            provider: call.provider.to_string(),
            definition_hash: hash.to_string(),
            scope: scope.as_str().to_string(),
            session: (scope == Scope::Session).then(|| call.session.id.clone()),
            created: now(),
            created_by: by.to_string(),
        };
        if let Err(e) = self.blocking(|s| s.insert_grant(&grant)).await {
            tracing::warn!(error = %e, "cannot remember the approval");
        }
    }

    fn record(&self, call: &Call<'_>, approved: bool, by: &str, started: Instant) {
        let outcome = if approved {
            Outcome::Approved
        } else {
            Outcome::Denied
        };
        self.auditor.record_decision(
            call.session,
            call.requester.request_id(),
            Target {
                name: Some(call.tool),
                provider: Some(call.provider),
                arguments: None,
                args_sha256: None,
            },
            outcome,
            by,
            started,
        );
    }

    async fn blocking<T>(
        &self,
        f: impl FnOnce(&State) -> Result<T, crate::state::StateError>,
    ) -> Result<T, crate::state::StateError> {
        // The reads are quick and the writes wait on the writer thread: keep both off the
        // runtime's workers.
        let state = self.state.clone();
        tokio::task::block_in_place(move || f(&state))
    }
}

fn row_answer(row: &ApprovalRow) -> Answer {
    if row.status == "approved" {
        let scope = row
            .remember
            .as_deref()
            .and_then(Scope::parse)
            .unwrap_or(Scope::Once);
        Answer::Approve(scope)
    } else {
        Answer::Deny(format!(
            "denied in the approval inbox by {}",
            row.decided_by.as_deref().unwrap_or("someone")
        ))
    }
}

fn human(d: Duration) -> String {
    if d.as_secs() >= 1 && d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{d:?}")
    }
}
