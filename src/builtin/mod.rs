//! The built-in provider: tools switchboard offers itself, under no prefix. Today the unified
//! `search` and `fetch` across every data source.

pub mod health;
pub mod search;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::future::BoxFuture;
use rmcp::model::{
    CallToolResult, CompletionInfo, GetPromptResult, JsonObject, ReadResourceResult,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::catalog::Member;
use crate::provider::{Offer, Provider, ProviderError, SharedProvider};
use crate::requester::Requester;
use health::SourceHealth;
use search::SearchLimits;

/// The providers currently in the catalog, shared with the hub that maintains them.
pub type Members = Arc<RwLock<Vec<Member>>>;

/// The built-in tools.
pub struct Builtin {
    members: Members,
    limits: SearchLimits,
    health: Arc<SourceHealth>,
}

impl Builtin {
    /// Built-ins searching the data sources among `members`.
    pub fn new(members: Members, limits: SearchLimits) -> Self {
        Self {
            members,
            limits,
            health: Arc::default(),
        }
    }

    /// The sources' health as searches and fetches found it (for `switchboard://status`).
    pub fn health(&self) -> Arc<SourceHealth> {
        self.health.clone()
    }

    fn sources(&self) -> Vec<SharedProvider> {
        self.members
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|m| m.provider.data_source().is_some())
            .map(|m| m.provider.clone())
            .collect()
    }
}

fn arguments<T: DeserializeOwned>(tool: &str, arguments: JsonObject) -> Result<T, ProviderError> {
    serde_json::from_value(Value::Object(arguments))
        .map_err(|e| ProviderError::InvalidInput(format!("invalid arguments for {tool}: {e}")))
}

impl Provider for Builtin {
    fn name(&self) -> &str {
        "switchboard"
    }

    fn default_prefix(&self) -> String {
        String::new()
    }

    fn trusts_annotations(&self) -> bool {
        true
    }

    fn call_timeout(&self) -> Duration {
        // The search's own per-source deadlines bound it; this is the outer safety net.
        self.limits.source_timeout + Duration::from_secs(30)
    }

    fn offer(&self) -> BoxFuture<'_, Result<Offer, ProviderError>> {
        let tools = search::tools(self.limits);
        Box::pin(async move {
            Ok(Offer {
                tools,
                ..Offer::default()
            })
        })
    }

    fn call_tool(
        &self,
        tool: String,
        args: JsonObject,
        requester: Requester,
    ) -> BoxFuture<'_, Result<CallToolResult, ProviderError>> {
        Box::pin(async move {
            match tool.as_str() {
                "search" => {
                    let args = arguments(&tool, args)?;
                    search::search(args, self.sources(), self.limits, &self.health, &requester)
                        .await
                }
                "fetch" => {
                    let args = arguments(&tool, args)?;
                    search::fetch(args, self.sources(), &self.health, requester).await
                }
                other => Err(ProviderError::NotFound(format!("no built-in tool {other}"))),
            }
        })
    }

    fn read_resource(
        &self,
        uri: String,
        _requester: Requester,
    ) -> BoxFuture<'_, Result<ReadResourceResult, ProviderError>> {
        Box::pin(async move { Err(ProviderError::NotFound(format!("no resource {uri}"))) })
    }

    fn get_prompt(
        &self,
        prompt: String,
        _arguments: JsonObject,
        _requester: Requester,
    ) -> BoxFuture<'_, Result<GetPromptResult, ProviderError>> {
        Box::pin(async move { Err(ProviderError::NotFound(format!("no prompt {prompt}"))) })
    }

    fn complete(
        &self,
        _request: Value,
        _requester: Requester,
    ) -> BoxFuture<'_, Result<CompletionInfo, ProviderError>> {
        Box::pin(async { Ok(CompletionInfo::default()) })
    }
}
