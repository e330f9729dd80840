//! Stand-ins for switchboard in a plugin's unit tests (feature `testing`): a host that keeps
//! its key-value store, secrets and log in memory, and a call that records progress and log
//! notifications, can be cancelled, and answers elicitation and sampling as told.
//!
//! ```ignore
//! let host = FakeHost::new(data_dir);
//! let plugin = MyConnector::new(host.host(), json!({}))?;
//! let call = FakeCall::new();
//! let result = plugin.call_tool("work", args, &call.call())?;
//! assert_eq!(call.progress().len(), 3);
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RArc, RErr, ROk, ROption, RResult, RStr, RString, RVec};
use serde_json::Value;

use crate::abi::{ErrorKind, LogLevel, PluginError, RawCall, RawCall_TO, RawHost, RawHost_TO};
use crate::sdk::{Call, Host};

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// An in-memory host.
#[derive(Default)]
pub struct FakeHost {
    data_dir: PathBuf,
    logs: Mutex<Vec<(LogLevel, String)>>,
    kv: Mutex<BTreeMap<String, String>>,
    secrets: Mutex<BTreeMap<String, String>>,
    list_changed: AtomicUsize,
    // abi:since 1.2
    kept: Mutex<BTreeMap<String, String>>,
    // abi:end
}

impl FakeHost {
    /// A host whose data folder is `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> RArc<Self> {
        RArc::new(Self {
            data_dir: data_dir.into(),
            ..Self::default()
        })
    }

    /// Set a secret the plugin may ask for.
    pub fn set_secret(&self, name: &str, value: &str) {
        lock(&self.secrets).insert(name.to_string(), value.to_string());
    }

    /// The lines the plugin logged.
    pub fn logs(&self) -> Vec<(LogLevel, String)> {
        lock(&self.logs).clone()
    }

    /// Whether any logged line contains `text`.
    pub fn logged(&self, text: &str) -> bool {
        lock(&self.logs).iter().any(|(_, line)| line.contains(text))
    }

    /// The data folder it hands out.
    pub fn folder(&self) -> &std::path::Path {
        &self.data_dir
    }

    /// How often the plugin said its catalog changed.
    pub fn list_changes(&self) -> usize {
        self.list_changed.load(Ordering::SeqCst)
    }

    // abi:since 1.2
    /// The secret the plugin keeps under `name`, as the keyring would hold it.
    pub fn kept(&self, name: &str) -> Option<String> {
        lock(&self.kept).get(name).cloned()
    }
    // abi:end
}

/// The host services for `Connector::new`.
pub fn host(fake: &RArc<FakeHost>) -> Host {
    Host::from_raw(RawHost_TO::from_ptr(fake.clone(), TD_Opaque))
}

impl RawHost for FakeHost {
    fn log(&self, level: LogLevel, message: RStr<'_>) {
        lock(&self.logs).push((level, message.to_string()));
    }
    fn kv_get(&self, key: RStr<'_>) -> RResult<ROption<RString>, PluginError> {
        ROk(lock(&self.kv)
            .get(key.as_str())
            .map(|v| RString::from(v.as_str()))
            .into())
    }
    fn kv_set(&self, key: RStr<'_>, value: RStr<'_>) -> RResult<(), PluginError> {
        lock(&self.kv).insert(key.to_string(), value.to_string());
        ROk(())
    }
    fn kv_delete(&self, key: RStr<'_>) -> RResult<(), PluginError> {
        lock(&self.kv).remove(key.as_str());
        ROk(())
    }
    fn kv_keys(&self, prefix: RStr<'_>) -> RResult<RVec<RString>, PluginError> {
        ROk(lock(&self.kv)
            .keys()
            .filter(|k| k.starts_with(prefix.as_str()))
            .map(|k| RString::from(k.as_str()))
            .collect())
    }
    fn secret(&self, name: RStr<'_>) -> RResult<ROption<RString>, PluginError> {
        ROk(lock(&self.secrets)
            .get(name.as_str())
            .map(|v| RString::from(v.as_str()))
            .into())
    }
    fn data_dir(&self) -> RString {
        RString::from(self.data_dir.display().to_string())
    }
    fn notify_list_changed(&self) {
        self.list_changed.fetch_add(1, Ordering::SeqCst);
    }

    // abi:since 1.2
    fn kept_secret(&self, name: RStr<'_>) -> RResult<ROption<RString>, PluginError> {
        ROk(lock(&self.kept)
            .get(name.as_str())
            .cloned()
            .map(RString::from)
            .into())
    }

    fn keep_secret(&self, name: RStr<'_>, value: RStr<'_>) -> RResult<(), PluginError> {
        lock(&self.kept).insert(name.to_string(), value.to_string());
        ROk(())
    }

    fn forget_secret(&self, name: RStr<'_>) -> RResult<(), PluginError> {
        lock(&self.kept).remove(name.as_str());
        ROk(())
    }
    // abi:end
}

/// A recording call.
#[derive(Default)]
pub struct FakeCall {
    cancelled: AtomicBool,
    progress: Mutex<Vec<(f64, Option<f64>, String)>>,
    logs: Mutex<Vec<(LogLevel, String, String)>>,
    arrived: Condvar,
    elicit_answer: Mutex<Option<Value>>,
    sample_answer: Mutex<Option<Value>>,
}

impl FakeCall {
    /// A call that is not cancelled and cannot ask anyone.
    pub fn new() -> RArc<Self> {
        RArc::new(Self::default())
    }

    /// Cancel it (the plugin sees `is_cancelled()`).
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
    }

    /// Answer elicitation with this `ElicitResult` JSON.
    pub fn answer_elicitation(&self, answer: Value) {
        *lock(&self.elicit_answer) = Some(answer);
    }

    /// Answer sampling with this `CreateMessageResult` JSON.
    pub fn answer_sampling(&self, answer: Value) {
        *lock(&self.sample_answer) = Some(answer);
    }

    /// The progress reported: (progress, total, message).
    pub fn progress(&self) -> Vec<(f64, Option<f64>, String)> {
        lock(&self.progress).clone()
    }

    /// The log notifications sent: (level, logger, data JSON).
    pub fn logs(&self) -> Vec<(LogLevel, String, String)> {
        lock(&self.logs).clone()
    }

    /// Wait (at most `limit`) until a progress message satisfies `pick`; panics otherwise.
    pub fn wait_for_progress(&self, limit: Duration, pick: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + limit;
        let mut seen = lock(&self.progress);
        while !seen.iter().any(|(_, _, message)| pick(message)) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "the awaited progress never came: {seen:?}");
            seen = self
                .arrived
                .wait_timeout(seen, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// The per-request services for one connector call.
pub fn call(fake: &RArc<FakeCall>) -> Call {
    Call::from_raw(RawCall_TO::from_ptr(fake.clone(), TD_Opaque))
}

fn answer(slot: &Mutex<Option<Value>>, what: &str) -> RResult<RString, PluginError> {
    match lock(slot).as_ref() {
        Some(answer) => ROk(RString::from(answer.to_string())),
        None => RErr(PluginError::new(
            ErrorKind::UNSUPPORTED,
            format!("this fake call does not answer {what}"),
        )),
    }
}

impl RawCall for FakeCall {
    fn progress(&self, progress: f64, total: ROption<f64>, message: RStr<'_>) {
        lock(&self.progress).push((progress, total.into_option(), message.to_string()));
        self.arrived.notify_all();
    }
    fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }
    fn log(&self, level: LogLevel, logger: RStr<'_>, data_json: RStr<'_>) {
        lock(&self.logs).push((level, logger.to_string(), data_json.to_string()));
    }
    fn elicit(&self, _request_json: RStr<'_>) -> RResult<RString, PluginError> {
        answer(&self.elicit_answer, "elicitation")
    }
    fn sample(&self, _request_json: RStr<'_>) -> RResult<RString, PluginError> {
        answer(&self.sample_answer, "sampling")
    }
}
