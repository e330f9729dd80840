//! The host side of the callback tables: what a plugin reaches when it logs, stores a value,
//! asks for a secret or keeps one of its own, reports progress or asks the person something.
//!
//! These run on the plugin's thread (a host blocking thread during calls), so they may block
//! on host async work. Every method catches panics: a panic must not unwind into plugin code.

#![allow(deprecated)] // MCP log levels are deprecated in 2026-07-28 only.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RArc, RErr, ROk, ROption, RResult, RStr, RString, RVec};
use rmcp::model::LoggingLevel;
use serde_json::Value;
use switchboard_plugin_api::abi::{
    CallBox, ErrorKind, HostBox, LogLevel, PluginError, RawCall, RawCall_TO, RawHost, RawHost_TO,
};
use tokio::runtime::Handle;
use tokio::sync::mpsc::UnboundedSender;

use crate::requester::Requester;
use crate::secrets::{Names, Reference, Resolver, Store};
use crate::state::State;

/// Something a plugin told the host outside any request.
#[derive(Debug)]
pub enum HostEvent {
    /// A plugin's catalog changed.
    ListChanged {
        /// The plugin.
        plugin: String,
    },
    /// A plugin logged at warning level or above; clients hear of it.
    Log {
        /// The plugin.
        plugin: String,
        /// The level.
        level: LoggingLevel,
        /// The text.
        message: String,
    },
}

/// The per-plugin host state behind [`HostBox`].
pub struct PluginHost {
    plugin: String,
    state: State,
    data_dir: PathBuf,
    /// Declared secret name → configured reference.
    secrets: BTreeMap<String, Option<Reference>>,
    /// The list of stored names `switchboard secrets list` shows; kept secrets go on it.
    names: Names,
    events: UnboundedSender<HostEvent>,
}

impl PluginHost {
    /// The services of plugin `plugin`. `secrets` maps every secret the plugin declared to the
    /// reference the configuration gives (or `None`).
    pub fn new(
        plugin: String,
        state: State,
        data_dir: PathBuf,
        secrets: BTreeMap<String, Option<Reference>>,
        names: Names,
        events: UnboundedSender<HostEvent>,
    ) -> Self {
        Self {
            plugin,
            state,
            data_dir,
            secrets,
            names,
            events,
        }
    }

    /// As the plugin receives it.
    pub fn into_box(self) -> HostBox {
        RawHost_TO::from_ptr(RArc::new(self), TD_Opaque)
    }
}

/// The keyring entry of the secret `name` that `plugin` keeps for itself in the home whose
/// [`Names::scope`] is `scope`: under a prefix of its own, so a plugin reaches neither another
/// plugin's nor the person's entries, nor its own in another home. A name is letters, digits,
/// `.`, `_` and `-`, at most 64 of them.
pub fn kept_entry(scope: &str, plugin: &str, name: &str) -> Result<String, PluginError> {
    let fits = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !fits {
        return Err(PluginError::new(
            ErrorKind::INVALID_INPUT,
            format!(
                "{name:?} cannot name a kept secret: use letters, digits, '.', '_' and '-', at most 64"
            ),
        ));
    }
    Ok(format!("{}{name}", kept_prefix(scope, plugin)))
}

/// What every entry `plugin` keeps in the home of `scope` starts with.
pub fn kept_prefix(scope: &str, plugin: &str) -> String {
    format!("switchboard-plugin/{scope}/{plugin}/")
}

fn host_failure(what: &str, e: impl std::fmt::Display) -> PluginError {
    PluginError::new(ErrorKind::FAILED, format!("{what}: {e}"))
}

/// Run a host callback, turning a panic into an error.
fn contain<T>(what: &str, f: impl FnOnce() -> RResult<T, PluginError>) -> RResult<T, PluginError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => RErr(PluginError::new(
            ErrorKind::FAILED,
            format!("switchboard failed internally in {what}"),
        )),
    }
}

/// The MCP level of an ABI level.
pub fn mcp_level(level: LogLevel) -> LoggingLevel {
    match level.0 {
        0 => LoggingLevel::Debug,
        1 => LoggingLevel::Info,
        2 => LoggingLevel::Notice,
        3 => LoggingLevel::Warning,
        4 => LoggingLevel::Error,
        5 => LoggingLevel::Critical,
        6 => LoggingLevel::Alert,
        _ => LoggingLevel::Emergency,
    }
}

impl RawHost for PluginHost {
    fn log(&self, level: LogLevel, message: RStr<'_>) {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            let plugin = self.plugin.as_str();
            let text = message.as_str();
            match level.0 {
                0 => tracing::debug!(plugin, "{text}"),
                1 | 2 => tracing::info!(plugin, "{text}"),
                3 => tracing::warn!(plugin, "{text}"),
                _ => tracing::error!(plugin, "{text}"),
            }
            if level >= LogLevel::WARNING {
                let _ = self.events.send(HostEvent::Log {
                    plugin: self.plugin.clone(),
                    level: mcp_level(level),
                    message: text.to_string(),
                });
            }
        }));
    }

    fn kv_get(&self, key: RStr<'_>) -> RResult<ROption<RString>, PluginError> {
        contain("kv_get", || {
            match self.state.kv_get(&self.plugin, key.as_str()) {
                Ok(value) => ROk(value.map(RString::from).into()),
                Err(e) => RErr(host_failure("reading the key-value store failed", e)),
            }
        })
    }

    fn kv_set(&self, key: RStr<'_>, value: RStr<'_>) -> RResult<(), PluginError> {
        contain("kv_set", || {
            match self
                .state
                .kv_put(&self.plugin, key.as_str(), Some(value.as_str()))
            {
                Ok(()) => ROk(()),
                Err(e) => RErr(host_failure("writing the key-value store failed", e)),
            }
        })
    }

    fn kv_delete(&self, key: RStr<'_>) -> RResult<(), PluginError> {
        contain("kv_delete", || {
            match self.state.kv_put(&self.plugin, key.as_str(), None) {
                Ok(()) => ROk(()),
                Err(e) => RErr(host_failure("writing the key-value store failed", e)),
            }
        })
    }

    fn kv_keys(&self, prefix: RStr<'_>) -> RResult<RVec<RString>, PluginError> {
        contain("kv_keys", || {
            match self.state.kv_keys(&self.plugin, prefix.as_str()) {
                Ok(keys) => ROk(keys.into_iter().map(RString::from).collect()),
                Err(e) => RErr(host_failure("reading the key-value store failed", e)),
            }
        })
    }

    fn secret(&self, name: RStr<'_>) -> RResult<ROption<RString>, PluginError> {
        contain("secret", || {
            let name = name.as_str();
            let Some(reference) = self.secrets.get(name) else {
                return RErr(PluginError::new(
                    ErrorKind::DENIED,
                    format!("secret {name:?} is not declared in the plugin's manifest"),
                ));
            };
            let Some(reference) = reference else {
                return ROk(ROption::RNone);
            };
            match Resolver.resolve(reference) {
                Ok(value) => ROk(value.map(RString::from).into()),
                Err(e) => RErr(host_failure(&format!("secret {name:?}"), e)),
            }
        })
    }

    fn data_dir(&self) -> RString {
        if let Err(e) = std::fs::create_dir_all(&self.data_dir) {
            tracing::warn!(plugin = %self.plugin, error = %e, "cannot create the plugin's data folder");
        }
        RString::from(self.data_dir.display().to_string())
    }

    fn notify_list_changed(&self) {
        let _ = self.events.send(HostEvent::ListChanged {
            plugin: self.plugin.clone(),
        });
    }

    fn kept_secret(&self, name: RStr<'_>) -> RResult<ROption<RString>, PluginError> {
        contain("kept_secret", || {
            let entry = match kept_entry(&self.names.scope(), &self.plugin, name.as_str()) {
                Ok(entry) => entry,
                Err(e) => return RErr(e),
            };
            match Store::open().and_then(|store| store.read(&entry)) {
                Ok(value) => ROk(value.map(RString::from).into()),
                Err(e) => RErr(host_failure("reading the plugin's kept secret", e)),
            }
        })
    }

    fn keep_secret(&self, name: RStr<'_>, value: RStr<'_>) -> RResult<(), PluginError> {
        contain("keep_secret", || {
            let entry = match kept_entry(&self.names.scope(), &self.plugin, name.as_str()) {
                Ok(entry) => entry,
                Err(e) => return RErr(e),
            };
            if let Err(e) = Store::open().and_then(|store| store.write(&entry, value.as_str())) {
                return RErr(host_failure("keeping the plugin's secret", e));
            }
            tracing::info!(plugin = %self.plugin, entry = %entry, "kept a secret for the plugin in the keyring");
            // The list is for `secrets list`; the value is kept whether or not it is listed.
            if let Err(e) = self.names.insert(&entry) {
                tracing::warn!(plugin = %self.plugin, entry = %entry, error = %e, "the kept secret is not on the list `secrets list` shows");
            }
            ROk(())
        })
    }

    fn forget_secret(&self, name: RStr<'_>) -> RResult<(), PluginError> {
        contain("forget_secret", || {
            let entry = match kept_entry(&self.names.scope(), &self.plugin, name.as_str()) {
                Ok(entry) => entry,
                Err(e) => return RErr(e),
            };
            if let Err(e) = Store::open().and_then(|store| store.remove(&entry)) {
                return RErr(host_failure("forgetting the plugin's secret", e));
            }
            if let Err(e) = self.names.remove(&entry) {
                tracing::warn!(plugin = %self.plugin, entry = %entry, error = %e, "the forgotten secret is still on the list `secrets list` shows");
            }
            ROk(())
        })
    }
}

/// The per-request services behind [`CallBox`].
pub struct PluginCall {
    plugin: String,
    requester: Requester,
    runtime: Handle,
}

impl PluginCall {
    /// The services of one request to `plugin`, as the plugin receives them.
    pub fn new_box(plugin: String, requester: Requester, runtime: Handle) -> CallBox {
        RawCall_TO::from_ptr(
            RArc::new(Self {
                plugin,
                requester,
                runtime,
            }),
            TD_Opaque,
        )
    }
}

fn ask_failure(e: crate::requester::AskError) -> PluginError {
    let kind = match e {
        crate::requester::AskError::NotSupported(_) => ErrorKind::UNSUPPORTED,
        crate::requester::AskError::Failed(_) => ErrorKind::FAILED,
    };
    PluginError::new(kind, e.to_string())
}

impl RawCall for PluginCall {
    fn progress(&self, progress: f64, total: ROption<f64>, message: RStr<'_>) {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            let message = Some(message.as_str().to_string()).filter(|m| !m.is_empty());
            self.runtime.block_on(
                self.requester
                    .progress(progress, total.into_option(), message),
            );
        }));
    }

    fn is_cancelled(&self) -> bool {
        self.requester.is_cancelled()
    }

    fn log(&self, level: LogLevel, logger: RStr<'_>, data_json: RStr<'_>) {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            let data = serde_json::from_str(data_json.as_str())
                .unwrap_or_else(|_| Value::String(data_json.as_str().to_string()));
            let logger = Some(logger.as_str().to_string()).filter(|l| !l.is_empty());
            self.runtime
                .block_on(self.requester.log(mcp_level(level), logger, data));
        }));
    }

    fn elicit(&self, request_json: RStr<'_>) -> RResult<RString, PluginError> {
        contain("elicit", || {
            let params = match serde_json::from_str(request_json.as_str()) {
                Ok(p) => p,
                Err(e) => {
                    return RErr(PluginError::new(
                        ErrorKind::INVALID_INPUT,
                        format!("the elicitation request is not valid: {e}"),
                    ));
                }
            };
            match self
                .runtime
                .block_on(self.requester.elicit_for(&self.plugin, params))
            {
                Ok(answer) => match serde_json::to_string(&answer) {
                    Ok(json) => ROk(RString::from(json)),
                    Err(e) => RErr(host_failure("encoding the answer", e)),
                },
                Err(e) => RErr(ask_failure(e)),
            }
        })
    }

    fn sample(&self, request_json: RStr<'_>) -> RResult<RString, PluginError> {
        contain("sample", || {
            let params = match serde_json::from_str(request_json.as_str()) {
                Ok(p) => p,
                Err(e) => {
                    return RErr(PluginError::new(
                        ErrorKind::INVALID_INPUT,
                        format!("the sampling request is not valid: {e}"),
                    ));
                }
            };
            match self.runtime.block_on(self.requester.sample(params)) {
                Ok(answer) => match serde_json::to_string(&answer) {
                    Ok(json) => ROk(RString::from(json)),
                    Err(e) => RErr(host_failure("encoding the answer", e)),
                },
                Err(e) => RErr(ask_failure(e)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::kept_entry;

    #[test]
    fn a_kept_secret_stays_under_its_plugin_s_prefix_whatever_its_name_says() {
        assert_eq!(
            kept_entry("0a1b2c3d", "outlook", "token.v2_a-b").unwrap(),
            "switchboard-plugin/0a1b2c3d/outlook/token.v2_a-b"
        );
        for hostile in [
            "",
            "../box/token",
            "a/b",
            "token\n",
            " token",
            "tök",
            "x}",
            &"a".repeat(65),
        ] {
            let error = kept_entry("0a1b2c3d", "outlook", hostile).unwrap_err();
            assert!(
                error.message.contains("cannot name a kept secret"),
                "{hostile:?}"
            );
        }
        assert!(kept_entry("0a1b2c3d", "outlook", &"a".repeat(64)).is_ok());
    }
}
