//! `switchboard sources list | add | login | test | remove`: the data sources a person sets
//! up, without knowing which connector is behind a name.
//!
//! `add` writes the connector's section of `config.yaml` ([`crate::config::edit`], the rest of
//! the file untouched) and puts the secrets it declares in the OS keyring under
//! `switchboard-source/<source>/<secret>`, the section holding only `${keyring:…}` references.
//! `login`, `test` and `remove` call the tools every signing-in connector offers by convention
//! (`switchboard_plugin_api::source`: `sign_in`, `check`, `sign_out`) straight on the plugin,
//! not through the approval gate: the person at the terminal is the one asking.

use std::io::Write;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rmcp::model::{CallToolResult, JsonObject};
use serde_json::{Map, Value, json};
use switchboard_plugin_api::Manifest;
use switchboard_plugin_api::source::{CHECK, SIGN_IN, SIGN_OUT};

use super::SourcesCommand;
use crate::audit::Target;
use crate::config::{ConnectorConfig, EMBEDDED_DEFAULT, Loaded, Source, edit};
use crate::hub::Hub;
use crate::plugin::services::kept_prefix;
use crate::requester::{LocalReport, Requester};
use crate::secrets::{Names, Reference, Resolver, Store};
use crate::session::SessionInfo;
use crate::state::Outcome;

/// The longest a sign-in may take (a device code lasts 15 minutes).
const SIGN_IN_LIMIT: Duration = Duration::from_secs(30 * 60);

/// Run a `sources` subcommand.
pub async fn run(loaded: Loaded, command: SourcesCommand) -> Result<ExitCode> {
    match command {
        SourcesCommand::List { json } => list(&loaded, json),
        SourcesCommand::Add {
            name,
            settings,
            secrets,
            secret_files,
        } => add(&loaded, &name, &settings, &secrets, &secret_files),
        SourcesCommand::Login { name, flow } => {
            let mut args = JsonObject::new();
            if let Some(flow) = flow {
                args.insert("flow".into(), Value::String(flow));
            }
            let result = convention(loaded, &name, SIGN_IN, args, Some(SIGN_IN_LIMIT)).await?;
            Ok(print_result(&result))
        }
        SourcesCommand::Test { name } => {
            let result = convention(loaded, &name, CHECK, JsonObject::new(), None).await?;
            Ok(print_result(&result))
        }
        SourcesCommand::Remove { name } => remove(loaded, &name).await,
    }
}

/// The keyring entry `add` stores a source's secret under, in the home of `names`.
fn secret_entry(names: &Names, source: &str, secret: &str) -> String {
    format!("{}{secret}", secret_prefix(names, source))
}

fn secret_prefix(names: &Names, source: &str) -> String {
    format!("switchboard-source/{}/{source}/", names.scope())
}

/// The data-source connectors installed, by name.
fn data_sources(loaded: &Loaded) -> Vec<(String, Manifest)> {
    crate::plugin::sections::installed(loaded)
        .into_iter()
        .filter_map(|(name, manifest)| {
            manifest
                .ok()
                .filter(|m| m.data_source.is_some())
                .map(|m| (name, m))
        })
        .collect()
}

fn source_manifest(loaded: &Loaded, name: &str) -> Result<Manifest> {
    let all = data_sources(loaded);
    if let Some((_, manifest)) = all.iter().find(|(n, _)| n == name) {
        return Ok(manifest.clone());
    }
    let known: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    bail!(
        "no data source connector named {name:?} is installed; installed: {} (`switchboard plugins list` shows every library)",
        if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        }
    )
}

/// Whether a section turns its plugin on.
fn enabled(manifest: &Manifest, section: Option<&ConnectorConfig>) -> bool {
    section
        .and_then(|s| s.enabled)
        .unwrap_or(manifest.load_by_default)
}

fn list(loaded: &Loaded, as_json: bool) -> Result<ExitCode> {
    let names = Names::in_state_dir(&loaded.home.state_dir);
    let listed = names.read().unwrap_or_default();
    let mut entries = Vec::new();
    for (name, manifest) in data_sources(loaded) {
        let section = loaded.config.connectors.get(&name);
        let secrets: Vec<Value> = manifest
            .secrets
            .iter()
            .map(|declared| {
                let reference = section.and_then(|s| s.secrets.get(&declared.name));
                let state = match reference.map(|r| (r, Reference::parse(r))) {
                    None => "not set".to_string(),
                    Some((r, None)) => {
                        format!("{r:?} is not a ${{env:…}} or ${{keyring:…}} reference")
                    }
                    Some((r, Some(parsed))) => match Resolver.resolve(&parsed) {
                        Ok(Some(_)) => format!("set ({r})"),
                        Ok(None) => format!("missing: {r} holds nothing"),
                        Err(e) => format!("unreadable: {e}"),
                    },
                };
                json!({"name": declared.name, "state": state})
            })
            .collect();
        let prefix = kept_prefix(&names.scope(), &name);
        let kept: Vec<&str> = listed
            .iter()
            .filter_map(|n| n.strip_prefix(prefix.as_str()))
            .collect();
        entries.push(json!({
            "name": name,
            "label": manifest.data_source.as_ref().map(|d| d.label.clone()),
            "version": manifest.version,
            "configured": section.is_some(),
            "enabled": enabled(&manifest, section),
            "secrets": secrets,
            "kept_tokens": kept,
        }));
    }
    if as_json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(ExitCode::SUCCESS);
    }
    if entries.is_empty() {
        println!("no data source connectors are installed");
    }
    for entry in &entries {
        let on = if entry["enabled"] == true {
            "enabled"
        } else if entry["configured"] == true {
            "disabled"
        } else {
            "not set up (`switchboard sources add <name>`)"
        };
        println!(
            "{} ({}) {}: {on}",
            entry["name"].as_str().unwrap_or(""),
            entry["label"].as_str().unwrap_or(""),
            entry["version"].as_str().unwrap_or("")
        );
        for secret in entry["secrets"].as_array().into_iter().flatten() {
            println!(
                "  secret {}: {}",
                secret["name"].as_str().unwrap_or(""),
                secret["state"].as_str().unwrap_or("")
            );
        }
        let kept = entry["kept_tokens"].as_array().map(Vec::len).unwrap_or(0);
        if kept > 0 {
            println!("  signed in: {kept} token(s) kept in the keyring");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `key=value`, the value as JSON when it reads as JSON (numbers, true, lists...), else as
/// text; a dotted key sets a nested setting.
fn apply_setting(config: &mut Value, setting: &str) -> Result<()> {
    let Some((key, raw)) = setting.split_once('=') else {
        bail!("--set {setting:?}: write it as key=value");
    };
    let path: Vec<&str> = key.trim().split('.').collect();
    if path.iter().any(|part| part.is_empty()) {
        bail!("--set {setting:?}: the key {key:?} has an empty part");
    }
    let value = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()));
    let mut at = config;
    for part in &path[..path.len() - 1] {
        if !at.is_object() {
            *at = Value::Object(Map::new());
        }
        at = at
            .as_object_mut()
            .expect("made an object above")
            .entry(part.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if !at.is_object() {
        *at = Value::Object(Map::new());
    }
    at.as_object_mut()
        .expect("made an object above")
        .insert(path[path.len() - 1].to_string(), value);
    Ok(())
}

fn add(
    loaded: &Loaded,
    name: &str,
    settings: &[String],
    wanted: &[String],
    files: &[String],
) -> Result<ExitCode> {
    let manifest = source_manifest(loaded, name)?;
    let mut section = loaded
        .config
        .connectors
        .get(name)
        .cloned()
        .unwrap_or_default();
    section.enabled = Some(true);
    if !section.config.is_object() {
        section.config = Value::Object(Map::new());
    }
    for setting in settings {
        apply_setting(&mut section.config, setting)?;
    }
    crate::plugin::sections::check(&manifest, &section, &loaded.source)
        .map_err(|e| anyhow::anyhow!("{e}; nothing was written"))?;
    let mut from_files = Vec::new();
    for pair in files {
        let Some((secret, path)) = pair.split_once('=') else {
            bail!("--secret-file {pair:?}: write it as NAME=PATH");
        };
        let path = switchboard_plugin_api::paths::expand_home(
            path,
            switchboard_plugin_api::paths::home_dir().as_deref(),
        );
        let value = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "reading {secret} from {}; nothing was written",
                path.display()
            )
        })?;
        let value = value.trim_end_matches(['\n', '\r']).to_string();
        if value.is_empty() {
            bail!("{} is empty; nothing was written", path.display());
        }
        from_files.push((secret.to_string(), value));
    }
    for secret in wanted.iter().chain(from_files.iter().map(|(s, _)| s)) {
        if !manifest.secrets.iter().any(|d| &d.name == secret) {
            let declared: Vec<&str> = manifest.secrets.iter().map(|d| d.name.as_str()).collect();
            bail!(
                "{name} declares no secret {secret:?}; it declares: {}",
                declared.join(", ")
            );
        }
    }
    // Named secrets are read from standard input in the order given; with none named and a
    // person at the terminal, each declared secret is asked for (Enter keeps what is set).
    let asked: Vec<(String, bool)> = if !wanted.is_empty() || !from_files.is_empty() {
        wanted.iter().map(|s| (s.clone(), true)).collect()
    } else if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        manifest
            .secrets
            .iter()
            .map(|d| {
                eprintln!("{}: {}", d.name, d.description);
                (d.name.clone(), false)
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut values = from_files;
    for (secret, required) in asked {
        let value = super::secrets_cmd::read_line(&format!("{name} {secret} (Enter to skip)"))?;
        if value.is_empty() {
            if required {
                bail!("no value for {secret} on standard input; nothing was written");
            }
            continue;
        }
        values.push((secret, value));
    }
    let (path, text) = match &loaded.source {
        Source::File(path) => (
            path.clone(),
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        ),
        Source::Embedded => (loaded.home.config_file(), EMBEDDED_DEFAULT.to_string()),
    };
    if !values.is_empty() {
        let store = Store::open()?;
        let names = Names::in_state_dir(&loaded.home.state_dir);
        for (secret, value) in &values {
            let entry = secret_entry(&names, name, secret);
            names
                .insert(&entry)
                .with_context(|| format!("listing {entry} in {}", names.path().display()))?;
            store.write(&entry, value)?;
            section
                .secrets
                .insert(secret.clone(), format!("${{keyring:{entry}}}"));
            println!("stored {secret} in {} as {entry}", store.kind().title());
        }
    }
    let edited = edit::set_connector(&text, name, &section_body(&section));
    let target = Source::File(path.clone());
    let parsed = crate::config::parse(&edited, &target).map_err(|e| {
        anyhow::anyhow!(
            "internal: the edited file would not parse ({e}); {} is unchanged",
            path.display()
        )
    })?;
    if parsed.connectors.get(name) != Some(&section) {
        bail!(
            "internal: the edited section reads back differently; {} is unchanged",
            path.display()
        );
    }
    write_atomically(&path, &edited)?;
    println!("wrote connectors.{name} in {}", path.display());
    println!(
        "next: `switchboard sources login {name}` to sign in (if it needs it), then `switchboard sources test {name}`"
    );
    Ok(ExitCode::SUCCESS)
}

fn write_atomically(path: &std::path::Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let temporary = path.with_extension("yaml.tmp");
    std::fs::write(&temporary, text).with_context(|| format!("writing {}", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("replacing {}", path.display()))
}

/// The section's body as YAML, indented for `connectors.<name>:` at two spaces. JSON is
/// YAML, so every value is written as its JSON text: what reads back is what was meant.
fn section_body(section: &ConnectorConfig) -> String {
    let mut out = String::new();
    let line = |out: &mut String, key: &str, value: &Value| {
        out.push_str(&format!("    {key}: {value}\n"));
    };
    if let Some(enabled) = section.enabled {
        line(&mut out, "enabled", &json!(enabled));
    }
    if let Some(prefix) = &section.prefix {
        line(&mut out, "prefix", &json!(prefix));
    }
    if let Some(timeout) = section.call_timeout {
        line(
            &mut out,
            "call_timeout",
            &json!(timeout.get().as_secs_f64()),
        );
    }
    if let Some(timeout) = section.search_timeout {
        line(
            &mut out,
            "search_timeout",
            &json!(timeout.get().as_secs_f64()),
        );
    }
    if let Some(trust) = section.trust_annotations {
        line(&mut out, "trust_annotations", &json!(trust));
    }
    if !section.secrets.is_empty() {
        out.push_str("    secrets:\n");
        for (key, reference) in &section.secrets {
            out.push_str(&format!("      {}: {}\n", json!(key), json!(reference)));
        }
    }
    match section.config.as_object() {
        Some(config) if !config.is_empty() => {
            out.push_str("    config:\n");
            for (key, value) in config {
                out.push_str(&format!("      {}: {value}\n", json!(key)));
            }
        }
        _ => {}
    }
    out
}

/// Prints each new progress message of a call on its own line (a sign-in's code and address
/// must stay on the screen), and notices as `note: …`.
#[derive(Default)]
struct Lines(Mutex<Option<String>>);

impl LocalReport for Lines {
    fn progress(&self, _progress: f64, _total: Option<f64>, message: Option<&str>) {
        let Some(message) = message else { return };
        let mut last = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if last.as_deref() != Some(message) {
            let _ = writeln!(std::io::stderr().lock(), "{message}");
            *last = Some(message.to_string());
        }
    }

    fn notice(&self, text: &str) {
        let _ = writeln!(std::io::stderr().lock(), "note: {text}");
    }
}

/// Call the convention tool `tool` of the source `name` on the plugin itself, within `limit`
/// (default: the plugin's call timeout).
async fn convention(
    loaded: Loaded,
    name: &str,
    tool: &str,
    args: JsonObject,
    limit: Option<Duration>,
) -> Result<CallToolResult> {
    let hub = super::calls::start(loaded).await?;
    let outcome = call_on(&hub, name, tool, args, limit, Arc::new(Lines::default())).await;
    hub.shutdown().await;
    outcome
}

/// One live `check` of every data source on `hub` that offers it, a line each (for doctor);
/// whether all answered. A source that cannot be checked (local files) is listed as such.
pub(super) async fn print_health(hub: &Hub) -> bool {
    let mut healthy = true;
    let sources = hub.data_sources();
    if !sources.is_empty() {
        println!("source checks:");
    }
    let report: Arc<dyn LocalReport> = Arc::new(Lines::default());
    for (name, _label) in sources {
        let offers = hub
            .catalog
            .snapshot()
            .tools
            .values()
            .any(|r| r.provider.name() == name && r.local == CHECK);
        if !offers {
            println!("  {name:12} (local: nothing to check)");
            continue;
        }
        let args = JsonObject::new();
        let outcome = call_on(hub, &name, CHECK, args, Some(CHECK_LIMIT), report.clone()).await;
        let (ok, text) = match outcome {
            Ok(result) => (result.is_error != Some(true), first_text(&result)),
            Err(e) => (false, e.to_string()),
        };
        healthy &= ok;
        let verdict = if ok { "ok" } else { "FAILED" };
        println!("  {name:12} {verdict}: {text}");
    }
    healthy
}

/// How long doctor waits for one source's check.
const CHECK_LIMIT: Duration = Duration::from_secs(10);

fn first_text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .find_map(|block| {
            block
                .as_text()
                .map(|t| t.text.lines().next().unwrap_or("").to_string())
        })
        .unwrap_or_default()
}

/// The same on a running hub, reporting to `report`.
pub async fn call_on(
    hub: &Hub,
    name: &str,
    tool: &str,
    args: JsonObject,
    limit: Option<Duration>,
    report: Arc<dyn LocalReport>,
) -> Result<CallToolResult> {
    let snapshot = hub.catalog.snapshot();
    let Some(route) = snapshot
        .tools
        .values()
        .find(|r| r.provider.name() == name && r.local == tool)
    else {
        bail!("{}", why_not_callable(hub, name, tool));
    };
    let session = SessionInfo::new(Some(format!(
        "switchboard-cli/{}",
        env!("CARGO_PKG_VERSION")
    )));
    let request_id = session.request_id(1);
    let requester =
        Requester::local(request_id.clone(), session.asker(false)).with_local_report(report);
    let limit = limit.unwrap_or_else(|| route.provider.call_timeout());
    let arguments = crate::audit::arguments_text(&args);
    let started = std::time::Instant::now();
    let call = route
        .provider
        .call_tool(route.local.clone(), args, requester.clone());
    let outcome = match tokio::time::timeout(limit, call).await {
        Ok(Ok(result)) => Ok(result),
        Ok(Err(e)) => Err((Outcome::Error, format!("{name} {tool}: {e}"))),
        Err(_) => {
            requester.cancellation().cancel();
            Err((
                Outcome::Timeout,
                format!("{name} {tool}: no answer within {limit:?}; it was asked to stop"),
            ))
        }
    };
    // Not through the approval gate (the person at the terminal asked), but on the record
    // like every call.
    let row = match &outcome {
        Ok(result) if result.is_error == Some(true) => (Outcome::ToolError, None),
        Ok(_) => (Outcome::Ok, None),
        Err((kind, message)) => (*kind, Some(message.clone())),
    };
    let target = Target {
        name: Some(&route.tool.name),
        provider: Some(name),
        arguments: Some(&arguments),
        args_sha256: None,
    };
    hub.auditor
        .record(&session, &request_id, "tools/call", target, row, started);
    outcome.map_err(|(_, message)| anyhow::anyhow!(message))
}

fn why_not_callable(hub: &Hub, name: &str, tool: &str) -> String {
    let found = hub.found();
    let plugin = found
        .iter()
        .find(|f| f.manifest.as_ref().is_some_and(|m| m.name == name));
    match plugin.map(|f| &f.status) {
        None => format!(
            "no connector named {name:?} is installed; `switchboard sources list` shows the data sources"
        ),
        Some(crate::plugin::Status::Disabled) => format!(
            "{name} is not enabled: `switchboard sources add {name}` sets it up and turns it on"
        ),
        Some(crate::plugin::Status::Loaded) => {
            format!("{name} offers no {tool} tool; it needs no {tool} step")
        }
        Some(status) => format!(
            "{name} is not running: {}",
            super::plugins::status_word(status)
        ),
    }
}

fn print_result(result: &CallToolResult) -> ExitCode {
    for block in &result.content {
        if let Some(text) = block.as_text() {
            println!("{}", text.text);
        }
    }
    if result.is_error == Some(true) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

async fn remove(loaded: Loaded, name: &str) -> Result<ExitCode> {
    let section = loaded.config.connectors.get(name).cloned();
    let state_dir = loaded.home.state_dir.clone();
    let path = match &loaded.source {
        Source::File(path) => Some(path.clone()),
        Source::Embedded => None,
    };
    // Signing out needs the plugin running; when it is not, its kept tokens are removed
    // below from the list of names.
    let hub = super::calls::start(loaded).await?;
    let signed_out = call_on(
        &hub,
        name,
        SIGN_OUT,
        JsonObject::new(),
        None,
        Arc::new(Lines::default()),
    )
    .await;
    hub.shutdown().await;
    match &signed_out {
        Ok(result) => {
            print_result(result);
        }
        Err(e) => eprintln!("not signed out by the connector: {e}"),
    }
    let store = Store::open()?;
    let names = Names::in_state_dir(&state_dir);
    let ours = secret_prefix(&names, name);
    let kept = kept_prefix(&names.scope(), name);
    let mut entries: Vec<String> = names
        .read()
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n.starts_with(&ours) || n.starts_with(&kept))
        .collect();
    // References `add` wrote that the list lost track of.
    for reference in section.iter().flat_map(|s| s.secrets.values()) {
        if let Some(Reference::Keyring(entry)) = Reference::parse(reference)
            && entry.starts_with(&ours)
            && !entries.contains(&entry)
        {
            entries.push(entry);
        }
    }
    for entry in &entries {
        store.remove(entry)?;
        names
            .remove(entry)
            .with_context(|| format!("taking {entry} off {}", names.path().display()))?;
        println!("deleted {entry} from {}", store.kind().title());
    }
    let Some(path) = path.filter(|_| section.is_some()) else {
        println!("config.yaml has no connectors.{name} section; nothing else to remove");
        return Ok(ExitCode::SUCCESS);
    };
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    match edit::remove_connector(&text, name) {
        Some(edited) => {
            crate::config::parse(&edited, &Source::File(path.clone())).map_err(|e| {
                anyhow::anyhow!(
                    "internal: the file would not parse without the section ({e}); {} is unchanged",
                    path.display()
                )
            })?;
            write_atomically(&path, &edited)?;
            println!("removed connectors.{name} from {}", path.display());
        }
        None => println!(
            "connectors.{name} is not written in block style in {}; remove it by hand",
            path.display()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_json_when_they_read_as_json_text_otherwise_and_dotted_keys_nest() {
        let mut config = json!({"tenant": "old", "search": {"limit": 5}});
        for setting in [
            "tenant=contoso",
            "send=true",
            "search.database=DOCS",
            "search.columns=[\"title\",\"body\"]",
            "note=a=b",
        ] {
            apply_setting(&mut config, setting).unwrap();
        }
        assert_eq!(
            config,
            json!({"tenant": "contoso", "send": true, "note": "a=b",
                   "search": {"limit": 5, "database": "DOCS", "columns": ["title", "body"]}})
        );
        assert!(apply_setting(&mut config, "novalue").is_err());
        assert!(apply_setting(&mut config, "a..b=1").is_err());
    }

    #[test]
    fn a_section_written_reads_back_as_the_same_section() {
        let mut section = ConnectorConfig {
            enabled: Some(true),
            prefix: Some("mail".into()),
            call_timeout: Some(Duration::from_millis(1500).into()),
            trust_annotations: Some(false),
            config: json!({"tenant": "con: toso # not a comment", "n": 3, "deep": {"x": [1, "two"]}}),
            ..ConnectorConfig::default()
        };
        section.secrets.insert(
            "client_secret".into(),
            "${keyring:switchboard-source/0a1b2c3d/outlook/client_secret}".into(),
        );
        let text = edit::set_connector(EMBEDDED_DEFAULT, "outlook", &section_body(&section));
        let parsed = crate::config::parse(&text, &Source::Embedded).unwrap();
        assert_eq!(parsed.connectors["outlook"], section);
    }
}
