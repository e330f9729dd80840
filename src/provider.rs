//! Providers: the one abstraction behind every tool, resource and prompt switchboard serves.
//!
//! A plugin, a downstream MCP server and the built-in tools are all providers. The catalog
//! merges what they offer and names it; the call pipeline and the MCP face never know which
//! kind of provider is behind a name.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use rmcp::model::{
    CallToolResult, CompletionInfo, GetPromptResult, JsonObject, Prompt, ReadResourceResult,
    Resource, ResourceTemplate, Tool,
};
use serde_json::Value;

use crate::requester::Requester;

/// What a provider offers at one moment, under its own (unprefixed) names.
#[derive(Clone, Debug, Default)]
pub struct Offer {
    /// Tools.
    pub tools: Vec<Tool>,
    /// Concrete resources.
    pub resources: Vec<Resource>,
    /// Resource templates.
    pub resource_templates: Vec<ResourceTemplate>,
    /// Prompts.
    pub prompts: Vec<Prompt>,
}

/// Why a provider could not serve a request.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ProviderError {
    /// No such tool, resource, prompt or document.
    #[error("{0}")]
    NotFound(String),
    /// The request's arguments are not acceptable.
    #[error("{0}")]
    InvalidInput(String),
    /// The provider does not offer this.
    #[error("{0}")]
    Unsupported(String),
    /// It failed.
    #[error("{0}")]
    Failed(String),
    /// It panicked (the panic was contained).
    #[error("{0}")]
    Panicked(String),
    /// It ran out of time. switchboard stops waiting and asks the provider to stop, but a
    /// plugin's or server's work already under way may still complete, and the message says so.
    #[error(
        "timed out after {0:?}: switchboard stopped waiting and asked it to stop, but what it was doing may still complete; check before repeating it"
    )]
    Timeout(Duration),
    /// The client cancelled the request.
    #[error("cancelled by the client")]
    Cancelled,
}

/// A search query as the unified `search` hands it to one source.
#[derive(Clone, Debug)]
pub struct SearchQuery {
    /// The query text.
    pub query: String,
    /// Most hits wanted.
    pub limit: u32,
}

/// One hit from one source, native id.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct SourceHit {
    /// The id the source's `fetch` takes.
    pub id: String,
    /// A title.
    pub title: String,
    /// A link.
    #[serde(default)]
    pub url: Option<String>,
    /// An excerpt.
    #[serde(default)]
    pub snippet: Option<String>,
}

/// A fetched document, native id.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct SourceDocument {
    /// The native id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its text.
    pub text: String,
    /// A link.
    #[serde(default)]
    pub url: Option<String>,
    /// Other facts.
    #[serde(default)]
    pub metadata: JsonObject,
}

/// Everything a provider can be asked. Methods a provider does not support answer
/// [`ProviderError::Unsupported`] or [`ProviderError::NotFound`].
pub trait Provider: Send + Sync + 'static {
    /// The provider's name: the plugin's or server's name, `switchboard` for built-ins.
    fn name(&self) -> &str;

    /// The default prefix of its tool and prompt names (`""` for none).
    fn default_prefix(&self) -> String {
        self.name().to_string()
    }

    /// Whether its tool annotations (read-only, destructive...) are believed when deciding
    /// what needs approval. Only for providers that ship with switchboard or that the person
    /// configured as trusted.
    fn trusts_annotations(&self) -> bool {
        false
    }

    /// Whether it is switchboard's approval card, whose only tool answers the questions the
    /// approval gate asks and so is never itself asked about. Only the card says yes; a
    /// plugin or server cannot, whatever it names itself.
    fn answers_approvals(&self) -> bool {
        false
    }

    /// How long one call may run.
    fn call_timeout(&self) -> Duration;

    /// What it offers now.
    fn offer(&self) -> BoxFuture<'_, Result<Offer, ProviderError>>;

    /// Run one of its tools (by its own name).
    fn call_tool(
        &self,
        tool: String,
        arguments: JsonObject,
        requester: Requester,
    ) -> BoxFuture<'_, Result<CallToolResult, ProviderError>>;

    /// Read one of its resources.
    fn read_resource(
        &self,
        uri: String,
        requester: Requester,
    ) -> BoxFuture<'_, Result<ReadResourceResult, ProviderError>>;

    /// Render one of its prompts (by its own name). Providers without prompts keep this.
    fn get_prompt(
        &self,
        prompt: String,
        arguments: JsonObject,
        requester: Requester,
    ) -> BoxFuture<'_, Result<GetPromptResult, ProviderError>> {
        let _ = (arguments, requester);
        Box::pin(async move { Err(ProviderError::NotFound(format!("no prompt {prompt}"))) })
    }

    /// Complete an argument; `request` is MCP's `completion/complete` params with names local
    /// to this provider. Providers with nothing to complete keep this.
    fn complete(
        &self,
        request: Value,
        requester: Requester,
    ) -> BoxFuture<'_, Result<CompletionInfo, ProviderError>> {
        let _ = (request, requester);
        Box::pin(async { Err(ProviderError::Unsupported("nothing to complete".into())) })
    }

    /// Its label, when it is a data source for the unified search.
    fn data_source(&self) -> Option<String> {
        None
    }

    /// How long the unified search waits for it, when it needs other than the default
    /// (`connectors.<name>.search_timeout`).
    fn search_timeout(&self) -> Option<Duration> {
        None
    }

    /// Search it (data sources only).
    fn search(
        &self,
        query: SearchQuery,
        requester: Requester,
    ) -> BoxFuture<'_, Result<Vec<SourceHit>, ProviderError>> {
        let _ = (query, requester);
        Box::pin(async { Err(ProviderError::Unsupported("not a data source".into())) })
    }

    /// Fetch one document (data sources only).
    fn fetch(
        &self,
        id: String,
        requester: Requester,
    ) -> BoxFuture<'_, Result<SourceDocument, ProviderError>> {
        let _ = (id, requester);
        Box::pin(async { Err(ProviderError::Unsupported("not a data source".into())) })
    }
}

/// A shared provider.
pub type SharedProvider = Arc<dyn Provider>;
