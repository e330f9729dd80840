//! A loaded plugin as a [`Provider`]: every call runs on one of the plugin's own threads
//! ([`super::workers`]), bounded by a per-plugin semaphore, so a slow plugin never stalls the
//! runtime or other plugins.
//!
//! The deadline itself is the pipeline's business; when it passes, the request's cancellation
//! token is cancelled, the plugin sees `is_cancelled()`, and its thread finishes on its own
//! (foreign code cannot be stopped from outside).

use std::sync::Arc;
use std::time::Duration;

use abi_stable::std_types::{RResult, RStr, RString};
use futures::future::BoxFuture;
use rmcp::model::{
    CallToolResult, CompletionInfo, GetPromptResult, JsonObject, Prompt, ReadResourceResult,
    Resource, ResourceTemplate, Tool,
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use switchboard_plugin_api::abi::{CallBox, ErrorKind, PluginBox, PluginError};
use switchboard_plugin_api::model::{Catalog, Manifest};
use tokio::sync::Semaphore;

use super::services::PluginCall;
use super::workers::Workers;
use crate::provider::{Offer, Provider, ProviderError, SearchQuery, SourceDocument, SourceHit};
use crate::requester::Requester;

/// A plugin instance the host can call.
pub struct PluginProvider {
    manifest: Manifest,
    prefix: String,
    plugin: Arc<PluginBox>,
    permits: Arc<Semaphore>,
    workers: Arc<Workers>,
    timeout: Duration,
    trusted: bool,
    search_timeout: Option<Duration>,
}

impl PluginProvider {
    /// Wrap an instantiated plugin.
    pub fn new(
        manifest: Manifest,
        prefix: String,
        plugin: PluginBox,
        max_concurrent: usize,
        timeout: Duration,
        trusted: bool,
    ) -> Self {
        let workers = Arc::new(Workers::new(&manifest.name));
        Self {
            manifest,
            prefix,
            plugin: Arc::new(plugin),
            permits: Arc::new(Semaphore::new(max_concurrent)),
            workers,
            timeout,
            trusted,
            search_timeout: None,
        }
    }

    /// The same, searched with its own deadline instead of `search.source_timeout`.
    pub fn with_search_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.search_timeout = timeout;
        self
    }

    /// Tell the plugin the host is shutting down (blocking). Calls still queued are refused,
    /// as are later ones, so none starts after this; one already running finishes on its own.
    pub fn shutdown(&self) {
        self.workers.close();
        if let Err(e) = self.plugin.shutdown().into_result() {
            tracing::warn!(plugin = %self.manifest.name, error = %e.message, "plugin shutdown failed");
        }
    }

    /// Run `f` against the plugin on one of its threads and decode its JSON answer.
    fn run<T, F>(
        &self,
        requester: Option<Requester>,
        f: F,
    ) -> BoxFuture<'_, Result<T, ProviderError>>
    where
        T: DeserializeOwned + Send + 'static,
        F: FnOnce(&PluginBox, Option<CallBox>) -> RResult<RString, PluginError> + Send + 'static,
    {
        let plugin = self.plugin.clone();
        let permits = self.permits.clone();
        let workers = self.workers.clone();
        let name = self.manifest.name.clone();
        Box::pin(async move {
            let _permit = permits
                .acquire_owned()
                .await
                .map_err(|_| ProviderError::Failed(format!("plugin {name} is shutting down")))?;
            if requester.as_ref().is_some_and(Requester::is_cancelled) {
                return Err(ProviderError::Cancelled);
            }
            let runtime = tokio::runtime::Handle::current();
            let call = requester.map(|r| PluginCall::new_box(name.clone(), r, runtime));
            let answer = workers
                .run(move || f(&plugin, call).into_result())
                .await
                .map_err(|e| ProviderError::Failed(e.to_string()))?;
            let json = answer.map_err(|e| plugin_error(&name, e))?;
            serde_json::from_str(json.as_str()).map_err(|e| {
                ProviderError::Failed(format!(
                    "plugin {name} returned an answer that is not valid: {e}"
                ))
            })
        })
    }
}

fn plugin_error(plugin: &str, e: PluginError) -> ProviderError {
    let message = e.message.to_string();
    match e.kind {
        ErrorKind::NOT_FOUND => ProviderError::NotFound(message),
        ErrorKind::INVALID_INPUT => ProviderError::InvalidInput(message),
        ErrorKind::UNSUPPORTED => ProviderError::Unsupported(message),
        ErrorKind::PANICKED => ProviderError::Panicked(format!("plugin {plugin}: {message}")),
        ErrorKind::CANCELLED => ProviderError::Cancelled,
        _ => ProviderError::Failed(message),
    }
}

fn convert<T: DeserializeOwned>(
    what: &str,
    plugin: &str,
    value: impl serde::Serialize,
) -> Result<T, ProviderError> {
    serde_json::to_value(value)
        .and_then(serde_json::from_value)
        .map_err(|e| {
            ProviderError::Failed(format!("plugin {plugin} declared an invalid {what}: {e}"))
        })
}

fn json_text(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_string())
}

impl Provider for PluginProvider {
    fn name(&self) -> &str {
        &self.manifest.name
    }

    fn default_prefix(&self) -> String {
        self.prefix.clone()
    }

    fn call_timeout(&self) -> Duration {
        self.timeout
    }

    fn trusts_annotations(&self) -> bool {
        self.trusted
    }

    fn offer(&self) -> BoxFuture<'_, Result<Offer, ProviderError>> {
        let catalog = self.run::<Catalog, _>(None, |p, _| p.catalog());
        Box::pin(async move {
            let catalog = catalog.await?;
            let name = self.manifest.name.as_str();
            let mut offer = Offer::default();
            for tool in catalog.tools {
                offer.tools.push(convert::<Tool>("tool", name, tool)?);
            }
            for resource in catalog.resources {
                offer
                    .resources
                    .push(convert::<Resource>("resource", name, resource)?);
            }
            for template in catalog.resource_templates {
                offer.resource_templates.push(convert::<ResourceTemplate>(
                    "resource template",
                    name,
                    template,
                )?);
            }
            for prompt in catalog.prompts {
                offer
                    .prompts
                    .push(convert::<Prompt>("prompt", name, prompt)?);
            }
            Ok(offer)
        })
    }

    fn call_tool(
        &self,
        tool: String,
        arguments: JsonObject,
        requester: Requester,
    ) -> BoxFuture<'_, Result<CallToolResult, ProviderError>> {
        let args = json_text(&arguments);
        self.run(Some(requester), move |p, call| {
            p.call_tool(
                RStr::from_str(&tool),
                RStr::from_str(&args),
                call.expect("call scope"),
            )
        })
    }

    fn read_resource(
        &self,
        uri: String,
        requester: Requester,
    ) -> BoxFuture<'_, Result<ReadResourceResult, ProviderError>> {
        self.run(Some(requester), move |p, call| {
            p.read_resource(RStr::from_str(&uri), call.expect("call scope"))
        })
    }

    fn get_prompt(
        &self,
        prompt: String,
        arguments: JsonObject,
        requester: Requester,
    ) -> BoxFuture<'_, Result<GetPromptResult, ProviderError>> {
        let args = json_text(&arguments);
        self.run(Some(requester), move |p, call| {
            p.get_prompt(
                RStr::from_str(&prompt),
                RStr::from_str(&args),
                call.expect("call scope"),
            )
        })
    }

    fn complete(
        &self,
        request: Value,
        requester: Requester,
    ) -> BoxFuture<'_, Result<CompletionInfo, ProviderError>> {
        let request = request.to_string();
        self.run(Some(requester), move |p, call| {
            p.complete(RStr::from_str(&request), call.expect("call scope"))
        })
    }

    fn data_source(&self) -> Option<String> {
        self.manifest.data_source.as_ref().map(|d| d.label.clone())
    }

    fn search_timeout(&self) -> Option<Duration> {
        self.search_timeout
    }

    fn search(
        &self,
        query: SearchQuery,
        requester: Requester,
    ) -> BoxFuture<'_, Result<Vec<SourceHit>, ProviderError>> {
        let request = serde_json::json!({"query": query.query, "limit": query.limit}).to_string();
        self.run(Some(requester), move |p, call| {
            p.search(RStr::from_str(&request), call.expect("call scope"))
        })
    }

    fn fetch(
        &self,
        id: String,
        requester: Requester,
    ) -> BoxFuture<'_, Result<SourceDocument, ProviderError>> {
        self.run(Some(requester), move |p, call| {
            p.fetch(RStr::from_str(&id), call.expect("call scope"))
        })
    }
}
