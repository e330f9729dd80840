//! Human approval of sensitive calls: the policy ([`policy`]), what the person is asked
//! ([`question`]), the inbox for clients that cannot ask ([`inbox`]), definition hashes that
//! bind grants ([`definition`]), and [`Gate`], which decides one call.
//!
//! The gate runs inside the pipeline's approval layer. A call the policy allows runs; one it
//! denies does not; one it asks about runs only after a matching grant or a yes, obtained by
//! MCP elicitation (classic sessions), the input-required round trip (2026-07-28 requests), or
//! the inbox (everyone else), whose question the person answers on the page [`page`] (a
//! running `serve` starts it on demand and sends a notification, [`attention`]) or with the
//! CLI. A call waits for the inbox at most `approvals.wait`, then returns saying where to
//! answer; the question stays open until `approvals.timeout`. Every answer is bound to who
//! asked ([`Requester::asker`]) and a yes runs one call. Every decision is an audit row linked to
//! the call.

#![allow(deprecated)] // MCP log levels are deprecated in 2026-07-28 only.

pub mod attention;
pub mod card;
pub mod definition;
pub mod inbox;
mod notify;
pub mod page;
mod plugin_questions;
pub mod policy;
pub mod question;
mod round_trip;
pub mod seal;
pub mod values;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::model::{InputRequiredResult, InputResponses};

use crate::audit::{Auditor, Target, arguments_text};
use crate::config::ApprovalsConfig;
use crate::requester::Requester;
use crate::session::SessionInfo;
use crate::state::approvals::{ApprovalRow, GrantRow};

use crate::state::{Outcome, State, now};
use attention::Attention;
pub use plugin_questions::PluginQuestions;
use policy::{Decision, Policy, Subject};
use question::{Answer, Asked, Scope};
use seal::Sealer;

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
    /// Whether the provider is switchboard's approval card ([`card`]), which is never asked
    /// about.
    pub answers_approvals: bool,
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

/// A request that only reads (a resource, a prompt, a completion), for [`Gate::screen`].
pub struct Read<'a> {
    /// The MCP method.
    pub method: &'a str,
    /// The URI, prompt name or completion target.
    pub name: &'a str,
    /// Its provider's name.
    pub provider: &'a str,
    /// Whether `name` is namespaced like a tool's (a prompt's), so tool globs apply to it.
    pub named_like_a_tool: bool,
    /// Who asks.
    pub session: &'a SessionInfo,
    /// The way back to the client.
    pub requester: &'a Requester,
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

/// Decides calls.
pub struct Gate {
    policy: Arc<Policy>,
    config: ApprovalsConfig,
    state: State,
    auditor: Auditor,
    sealer: Result<Sealer, String>,
    attention: Arc<Attention>,
}

impl Gate {
    /// A gate with `config`, recording into `state` (whose folder holds the inbox signals and
    /// the request-state key), reaching the person through `attention`.
    pub fn new(
        config: &crate::config::Config,
        policy: Arc<Policy>,
        state: State,
        auditor: Auditor,
        attention: Arc<Attention>,
    ) -> Self {
        let sealer = Sealer::open(&inbox::state_dir_of(&state));
        if let Err(e) = &sealer {
            tracing::warn!(error = %e, "2026-07-28 approvals are refused until the request-state key can be used");
        }
        Self {
            policy,
            config: config.approvals.clone(),
            state,
            auditor,
            sealer,
            attention,
        }
    }

    /// Decide `call`: by policy, then grants, then by asking.
    pub async fn decide(&self, call: &Call<'_>) -> Clearance {
        let started = Instant::now();
        if call.answers_approvals {
            // The card only answers questions this gate asked; asking about it would ask
            // forever. Its answers are bound to the question and the session (see card.rs).
            self.record(
                call,
                true,
                "switchboard's approval card (never asked about)",
                started,
            );
            return Clearance::Run;
        }
        let verdict = self.policy.decide(&self.subject(call));
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

    /// Decide a read: refused only by a deny rule that covers it, and then audited.
    pub fn screen(&self, read: &Read<'_>) -> Clearance {
        let name = read.named_like_a_tool.then_some(read.name);
        let Some(rule) = self.policy.refuses_read(read.provider, name) else {
            return Clearance::Run;
        };
        self.auditor.record_decision(
            read.session,
            read.requester.request_id(),
            Target {
                name: Some(read.name),
                provider: Some(read.provider),
                arguments: None,
                args_sha256: None,
            },
            Outcome::Denied,
            &format!("{rule} says deny"),
            Instant::now(),
        );
        Clearance::Refuse(format!(
            "Not served: switchboard's approval policy refuses {} {} of {} ({rule} says deny).",
            read.method, read.name, read.provider
        ))
    }

    fn subject<'a>(&self, call: &Call<'a>) -> Subject<'a> {
        Subject {
            tool: call.tool,
            provider: call.provider,
            provider_trusted: call.provider_trusted,
            annotations: call.definition.annotations.as_ref(),
        }
    }

    async fn ask(&self, call: &Call<'_>, why: &str, started: Instant) -> Clearance {
        let hash = definition::hash(call.definition);
        let asker = call.requester.asker().to_string();
        match self
            .blocking(|s| s.matching_grant(call.tool, &hash, &asker))
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
        let expires = chrono::Utc::now()
            + chrono::Duration::from_std(self.config.timeout.get()).unwrap_or_default();
        let text = Asked {
            tool: call.tool,
            provider: call.provider,
            definition: call.definition,
            trusted: self.policy.trusts(&self.subject(call)),
            arguments: call.arguments,
            client: call.session.client.as_deref(),
            asker: &asker,
            expires,
        }
        .text();
        let requester = call.requester;
        let answer = if requester.can_elicit() && requester.is_stateless() {
            match self.round_trip(call, &hash, &asker, &text).await {
                Ok(answer) => answer,
                Err(need_input) => return need_input,
            }
        } else if requester.can_elicit() {
            self.elicit(&text, requester).await
        } else if self.config.inbox {
            match self.inbox(call, &hash, &asker, &text, expires).await {
                Ok(answer) => answer,
                Err(waiting) => {
                    self.record(
                        call,
                        false,
                        &format!(
                            "not yet answered: the call returned after approvals.wait ({}); the question stays open",
                            human(self.config.wait_for_answer())
                        ),
                        started,
                    );
                    return Clearance::Refuse(waiting);
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
                    self.remember(call, &hash, &asker, scope, "the person, when asked")
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

    async fn elicit(&self, text: &str, requester: &Requester) -> Answer {
        let form = question::form(text);
        let timeout = self.config.timeout.get();
        match tokio::time::timeout(timeout, requester.elicit(form)).await {
            Ok(Ok(result)) => question::answer(&result),
            Ok(Err(e)) => Answer::Deny(format!("asking the person failed: {e}")),
            Err(_) => Answer::Deny(format!("no answer within {}", human(timeout))),
        }
    }

    /// Ask through the inbox and wait at most `approvals.wait`. `Err` carries what the model
    /// is told when the question is still open.
    async fn inbox(
        &self,
        call: &Call<'_>,
        hash: &str,
        asker: &str,
        text: &str,
        expires: chrono::DateTime<chrono::Utc>,
    ) -> Result<Answer, String> {
        let arguments = arguments_text(call.arguments);
        let question = inbox::Question {
            subject: call.tool,
            provider: call.provider,
            definition_hash: hash,
            args_sha256: call.args_sha256,
            text,
            arguments: Some(&arguments),
            asker,
            client: call.session.client.as_deref(),
            expires,
        };
        let wait = self.config.wait_for_answer();
        match inbox::ask(
            &self.state,
            &question,
            call.requester,
            wait,
            &self.attention,
        )
        .await
        {
            inbox::Waited::Answered(row) => Ok(row_answer(&row)),
            inbox::Waited::Cancelled => {
                Ok(Answer::Deny("the call was cancelled while waiting".into()))
            }
            inbox::Waited::Failed(why) => Ok(Answer::Deny(why)),
            inbox::Waited::Open(row) => {
                let url = self.attention.page_url().await;
                let how = attention::how_to_answer(&row.id, url.as_deref());
                let until = crate::state::local_time(&row.expires);
                Err(format!(
                    "Not run yet: {tool} needs the person's approval, and nobody has answered in {wait}. \
                     Tell the person that switchboard is asking them to approve {tool}: to answer, {how}. \
                     Then call {tool} again with exactly the same arguments: after a yes it runs once. \
                     The question stays open until {until} (local time).",
                    tool = call.tool,
                    wait = human(wait),
                ))
            }
        }
    }

    async fn remember(&self, call: &Call<'_>, hash: &str, asker: &str, scope: Scope, by: &str) {
        let grant = GrantRow {
            id: inbox::new_id(),
            tool: call.tool.to_string(),
            provider: call.provider.to_string(),
            definition_hash: hash.to_string(),
            scope: scope.as_str().to_string(),
            session: (scope == Scope::Session).then(|| asker.to_string()),
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

/// A duration as people read it: `40 s`, `10 min`, `1.5 s`.
pub fn human(d: Duration) -> String {
    let secs = d.as_secs();
    if d.subsec_millis() == 0 && secs >= 60 && secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else if secs >= 1 && d.subsec_millis() == 0 {
        format!("{secs} s")
    } else {
        format!("{d:?}")
    }
}
