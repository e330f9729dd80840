//! The safe side of the contract: what a plugin author implements and calls.
//!
//! A plugin is a type implementing [`Connector`], exported with [`crate::export_connector!`].
//! The adapter here turns the raw ABI calls into typed ones, parses and serialises the JSON, and
//! wraps every entry in [`guard`] so a panic becomes an error result instead of killing the host.

use std::panic::{AssertUnwindSafe, catch_unwind};

use abi_stable::std_types::{RErr, ROk, ROption, RResult, RStr, RString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::abi::{CallBox, ErrorKind, HostBox, LogLevel, PluginError, RawPlugin};
use crate::model::{
    Catalog, Completion, CompletionRequest, Document, ElicitRequest, ElicitResponse, JsonObject,
    Manifest, PromptResult, ResourceRead, SearchHit, SearchRequest, ToolResult,
};
use crate::tools::Tools;

/// What a plugin author implements. Every method but [`Connector::manifest`] and
/// [`Connector::new`] has a default that says "not supported", so a plugin implements only what
/// it offers.
///
/// Methods are called on threads the host keeps for the plugin, possibly several at once:
/// keep shared state behind locks. Long work should check [`Call::is_cancelled`] and report
/// [`Call::progress`].
pub trait Connector: Send + Sync + Sized + 'static {
    /// Who the plugin is and what it needs. Called often; keep it cheap and infallible.
    fn manifest() -> Manifest;

    /// Create the plugin. `config` is the plugin's section of `config.yaml`, already validated
    /// against [`Manifest::config_schema`].
    fn new(host: Host, config: Value) -> Result<Self, PluginError>;

    /// The connector's tool table ([`Tools`]), when it keeps one: the default
    /// [`Connector::catalog`] lists its tools and the default [`Connector::call_tool`] runs
    /// them, so a connector with a table writes neither.
    fn tools(&self) -> Option<&Tools<Self>> {
        None
    }

    /// The tools, resources, templates and prompts offered now (by default the tools of
    /// [`Connector::tools`]). Call [`Host::notify_list_changed`] when it changes.
    fn catalog(&self) -> Catalog {
        Catalog {
            tools: self.tools().map(Tools::definitions).unwrap_or_default(),
            ..Catalog::default()
        }
    }

    /// Run the tool `name` with `args` (an object, validated against the tool's input schema;
    /// by default through [`Connector::tools`]). Return `Ok(ToolResult::error(..))` for
    /// failures the model should read, `Err` when the call itself is wrong (unknown tool).
    fn call_tool(
        &self,
        name: &str,
        args: JsonObject,
        call: &Call,
    ) -> Result<ToolResult, PluginError> {
        match self.tools() {
            Some(tools) => tools.call(self, name, args, call),
            None => Err(PluginError::new(
                ErrorKind::NOT_FOUND,
                format!("no tool named {name}"),
            )),
        }
    }

    /// Read the resource at `uri`.
    fn read_resource(&self, uri: &str, call: &Call) -> Result<ResourceRead, PluginError> {
        let _ = call;
        Err(PluginError::new(
            ErrorKind::NOT_FOUND,
            format!("no resource at {uri}"),
        ))
    }

    /// Render the prompt `name`.
    fn get_prompt(
        &self,
        name: &str,
        args: JsonObject,
        call: &Call,
    ) -> Result<PromptResult, PluginError> {
        let _ = (args, call);
        Err(PluginError::new(
            ErrorKind::NOT_FOUND,
            format!("no prompt named {name}"),
        ))
    }

    /// Suggest values for a prompt or template argument.
    fn complete(&self, request: CompletionRequest, call: &Call) -> Result<Completion, PluginError> {
        let _ = (request, call);
        Ok(Completion::default())
    }

    /// Search this data source (declare it with [`Manifest::data_source`]).
    fn search(&self, request: SearchRequest, call: &Call) -> Result<Vec<SearchHit>, PluginError> {
        let _ = (request, call);
        Err(PluginError::new(
            ErrorKind::UNSUPPORTED,
            "this plugin is not a data source",
        ))
    }

    /// Fetch a document by the native id a search returned.
    fn fetch(&self, id: &str, call: &Call) -> Result<Document, PluginError> {
        let _ = call;
        Err(PluginError::new(
            ErrorKind::NOT_FOUND,
            format!("no document {id}"),
        ))
    }

    /// The host is shutting down: flush what is buffered.
    fn shutdown(&self) {}
}

/// Run `f`, turning a panic into a [`ErrorKind::PANICKED`] error. The SDK wraps every entry
/// point in it; use it yourself only in raw ABI code.
pub fn guard<T>(f: impl FnOnce() -> Result<T, PluginError>) -> RResult<T, PluginError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => ROk(value),
        Ok(Err(error)) => RErr(error),
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic with a non-text payload".to_string());
            RErr(PluginError::new(
                ErrorKind::PANICKED,
                format!("plugin panicked: {message}"),
            ))
        }
    }
}

fn parse<T: DeserializeOwned>(what: &str, json: RStr<'_>) -> Result<T, PluginError> {
    serde_json::from_str(json.as_str()).map_err(|e| {
        PluginError::new(
            ErrorKind::INVALID_INPUT,
            format!("{what} is not valid: {e}"),
        )
    })
}

fn to_json<T: Serialize>(value: &T) -> Result<RString, PluginError> {
    serde_json::to_string(value)
        .map(RString::from)
        .map_err(|e| {
            PluginError::new(
                ErrorKind::FAILED,
                format!("could not serialise the answer: {e}"),
            )
        })
}

/// The host services of a plugin, typed. Cheap to clone; keep it for the plugin's life.
#[derive(Clone)]
pub struct Host(std::sync::Arc<HostBox>);

impl Host {
    /// Wrap the raw services (the export macro does this).
    pub fn from_raw(raw: HostBox) -> Self {
        Self(std::sync::Arc::new(raw))
    }

    /// Log a line in the host's log, tagged with the plugin's name.
    pub fn log(&self, level: LogLevel, message: &str) {
        self.0.log(level, RStr::from_str(message));
    }

    /// Read a value of the plugin's key-value namespace.
    pub fn kv_get(&self, key: &str) -> Result<Option<String>, PluginError> {
        self.0
            .kv_get(RStr::from_str(key))
            .into_result()
            .map(|v| v.into_option().map(String::from))
    }

    /// Write a value; durable when this returns.
    pub fn kv_set(&self, key: &str, value: &str) -> Result<(), PluginError> {
        self.0
            .kv_set(RStr::from_str(key), RStr::from_str(value))
            .into_result()
    }

    /// Delete a key.
    pub fn kv_delete(&self, key: &str) -> Result<(), PluginError> {
        self.0.kv_delete(RStr::from_str(key)).into_result()
    }

    /// The keys starting with `prefix`, sorted.
    pub fn kv_keys(&self, prefix: &str) -> Result<Vec<String>, PluginError> {
        self.0
            .kv_keys(RStr::from_str(prefix))
            .into_result()
            .map(|keys| keys.into_iter().map(String::from).collect())
    }

    /// A secret declared in the manifest, or `None` when the user has not set it.
    pub fn secret(&self, name: &str) -> Result<Option<String>, PluginError> {
        self.0
            .secret(RStr::from_str(name))
            .into_result()
            .map(|v| v.into_option().map(String::from))
    }

    // abi:since 1.2
    /// A secret the plugin keeps for itself in the OS keyring ([`Host::keep_secret`]), or
    /// `None` when none is kept under `name`.
    pub fn kept_secret(&self, name: &str) -> Result<Option<String>, PluginError> {
        self.0
            .kept_secret(RStr::from_str(name))
            .into_result()
            .map(|v| v.into_option().map(String::from))
    }

    /// Keep `value` as the plugin's own secret `name` in the OS keyring, replacing what was
    /// kept: for tokens a sign-in gives. Never put such a value in the key-value store, a file
    /// or a log line.
    pub fn keep_secret(&self, name: &str, value: &str) -> Result<(), PluginError> {
        self.0
            .keep_secret(RStr::from_str(name), RStr::from_str(value))
            .into_result()
    }

    /// Remove the plugin's own secret `name` (signing out).
    pub fn forget_secret(&self, name: &str) -> Result<(), PluginError> {
        self.0.forget_secret(RStr::from_str(name)).into_result()
    }
    // abi:end

    /// The plugin's own data folder.
    pub fn data_dir(&self) -> std::path::PathBuf {
        std::path::PathBuf::from(self.0.data_dir().as_str())
    }

    /// Tell the host the catalog changed.
    pub fn notify_list_changed(&self) {
        self.0.notify_list_changed();
    }
}

/// The services bound to the request being served.
pub struct Call(CallBox);

impl Call {
    /// Wrap the raw per-request services (the SDK adapter does this).
    pub fn from_raw(raw: CallBox) -> Self {
        Self(raw)
    }

    /// Report progress, e.g. `call.progress(3.0, Some(10.0), "indexing")`.
    pub fn progress(&self, progress: f64, total: Option<f64>, message: &str) {
        let total = match total {
            Some(t) => ROption::RSome(t),
            None => ROption::RNone,
        };
        self.0.progress(progress, total, RStr::from_str(message));
    }

    /// Whether the client cancelled the request or it ran out of time.
    pub fn is_cancelled(&self) -> bool {
        self.0.is_cancelled()
    }

    /// Send a log notification to the client; `data` is any JSON value.
    pub fn log(&self, level: LogLevel, logger: &str, data: &Value) {
        let data = data.to_string();
        self.0
            .log(level, RStr::from_str(logger), RStr::from_str(&data));
    }

    /// Ask the person; blocks until they answer.
    pub fn elicit(&self, request: &ElicitRequest) -> Result<ElicitResponse, PluginError> {
        let json = to_json(request)?;
        let answer = self.0.elicit(json.as_rstr()).into_result()?;
        parse("the elicitation answer", answer.as_rstr())
    }

    /// Ask the client's model; `request` is MCP's `sampling/createMessage` params, the answer
    /// its result.
    pub fn sample(&self, request: &Value) -> Result<Value, PluginError> {
        let json = to_json(request)?;
        let answer = self.0.sample(json.as_rstr()).into_result()?;
        parse("the sampling answer", answer.as_rstr())
    }
}

/// Adapts a [`Connector`] to the raw ABI. Public only for the export macro.
#[doc(hidden)]
pub struct Adapter<C: Connector>(pub C);

impl<C: Connector> RawPlugin for Adapter<C> {
    fn catalog(&self) -> RResult<RString, PluginError> {
        guard(|| to_json(&self.0.catalog()))
    }

    fn call_tool(
        &self,
        name: RStr<'_>,
        args_json: RStr<'_>,
        call: CallBox,
    ) -> RResult<RString, PluginError> {
        guard(|| {
            let args: JsonObject = parse("the arguments", args_json)?;
            to_json(&self.0.call_tool(name.as_str(), args, &Call(call))?)
        })
    }

    fn read_resource(&self, uri: RStr<'_>, call: CallBox) -> RResult<RString, PluginError> {
        guard(|| to_json(&self.0.read_resource(uri.as_str(), &Call(call))?))
    }

    fn get_prompt(
        &self,
        name: RStr<'_>,
        args_json: RStr<'_>,
        call: CallBox,
    ) -> RResult<RString, PluginError> {
        guard(|| {
            let args: JsonObject = parse("the prompt arguments", args_json)?;
            to_json(&self.0.get_prompt(name.as_str(), args, &Call(call))?)
        })
    }

    fn complete(&self, request_json: RStr<'_>, call: CallBox) -> RResult<RString, PluginError> {
        guard(|| {
            let request = parse("the completion request", request_json)?;
            to_json(&self.0.complete(request, &Call(call))?)
        })
    }

    fn search(&self, request_json: RStr<'_>, call: CallBox) -> RResult<RString, PluginError> {
        guard(|| {
            let request = parse("the search request", request_json)?;
            to_json(&self.0.search(request, &Call(call))?)
        })
    }

    fn fetch(&self, id: RStr<'_>, call: CallBox) -> RResult<RString, PluginError> {
        guard(|| to_json(&self.0.fetch(id.as_str(), &Call(call))?))
    }

    // abi:since 1.1
    fn shutdown(&self) -> RResult<(), PluginError> {
        guard(|| {
            self.0.shutdown();
            Ok(())
        })
    }
    // abi:end
}

/// The manifest as JSON with the API version filled in. Public only for the export macro.
#[doc(hidden)]
pub fn manifest_json<C: Connector>() -> RString {
    let outcome = guard(|| {
        let mut manifest = C::manifest();
        manifest.api_version = crate::API_VERSION.to_string();
        to_json(&manifest)
    });
    match outcome {
        ROk(json) => json,
        // The host reports a manifest it cannot parse, naming the file.
        RErr(e) => RString::from(format!("manifest failed: {}", e.message)),
    }
}

/// Create the connector behind the raw ABI. Public only for the export macro.
#[doc(hidden)]
pub fn instantiate<C: Connector>(
    host: HostBox,
    config_json: RStr<'_>,
) -> RResult<crate::abi::PluginBox, PluginError> {
    guard(|| {
        let config: Value = parse("the plugin configuration", config_json)?;
        let host = Host::from_raw(host);
        route_panics_to(&host);
        let connector = C::new(host, config)?;
        Ok(crate::abi::RawPlugin_TO::from_value(
            Adapter(connector),
            abi_stable::sabi_trait::TD_Opaque,
        ))
    })
}

/// Send this library's panic messages to the host's log instead of the process's stderr.
/// (A plugin links its own copy of std, so this hook sees only the plugin's panics; the
/// panic itself is still caught and returned as an error by [`guard`].)
fn route_panics_to(host: &Host) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    let host = host.clone();
    ONCE.call_once(move || {
        std::panic::set_hook(Box::new(move |info| {
            host.log(LogLevel::ERROR, &format!("plugin {info}"));
        }));
    });
}

/// Export a [`Connector`] as the library's root module. Call it once, at the crate root of a
/// `cdylib` crate:
///
/// ```ignore
/// switchboard_plugin_api::export_connector!(MyConnector);
/// ```
#[macro_export]
macro_rules! export_connector {
    ($connector:ty) => {
        #[$crate::reexports::export_root_module]
        fn __switchboard_root_module() -> $crate::abi::PluginModRef {
            use $crate::reexports::PrefixTypeTrait;
            $crate::abi::PluginMod {
                manifest: __switchboard_manifest,
                instantiate: __switchboard_instantiate,
            }
            .leak_into_prefix()
        }

        #[$crate::reexports::sabi_extern_fn]
        fn __switchboard_manifest() -> $crate::reexports::RString {
            $crate::sdk::manifest_json::<$connector>()
        }

        #[$crate::reexports::sabi_extern_fn]
        fn __switchboard_instantiate(
            host: $crate::abi::HostBox,
            config_json: $crate::reexports::RStr<'_>,
        ) -> $crate::reexports::RResult<$crate::abi::PluginBox, $crate::abi::PluginError> {
            $crate::sdk::instantiate::<$connector>(host, config_json)
        }
    };
}
