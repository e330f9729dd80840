//! The `run` tool: its schema, reading its arguments, and rendering how a run ended for the
//! model (a readable text) and for programs (`structuredContent`).
//!
//! Exactly one of `command` (a shell line) and `argv` (a program and its arguments, no shell)
//! must be given; this is checked here rather than with a `oneOf` in the schema so the model
//! gets a sentence it can act on, and the schema stays flat for clients that dislike `oneOf`.
//! A run that exits non-zero, is killed, times out or is cancelled is an `isError` result: the
//! model reads what happened; only an unknown tool is an error of the call itself.

use std::ffi::OsString;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard_plugin_api::model::{Content, ToolAnnotations};
use switchboard_plugin_api::{Call, ErrorKind, PluginError, Tool, ToolResult, Tools};

use crate::Shell;
use crate::config::Config;

/// The arguments of `run`, as the model gives them.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunArgs {
    /// A shell command line. Give this or argv, not both.
    #[schemars(length(min = 1))]
    pub command: Option<String>,
    /// The program (a path, or a name found in PATH) and its arguments, run without a shell.
    /// Give this or command, not both.
    #[schemars(length(min = 1))]
    pub argv: Option<Vec<String>>,
    /// The folder to start in: absolute, starting with ~, or relative to the first allowed
    /// folder.
    pub cwd: Option<String>,
    /// Kill the command after this many milliseconds.
    #[schemars(range(min = 1))]
    pub timeout_ms: Option<u64>,
    /// Text to feed the command on stdin (default: empty).
    pub stdin: Option<String>,
}

/// How a run ended, as `run`'s structured content.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Outcome {
    /// The exit code; null when a signal ended it.
    pub exit_code: Option<i32>,
    /// The signal that ended it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// Whether its timeout stopped it.
    pub timed_out: bool,
    /// Whether cancellation stopped it.
    pub cancelled: bool,
    /// Its stdout, capped, with a note when cut.
    pub stdout: String,
    /// Its stderr, capped, with a note when cut.
    pub stderr: String,
    /// How long it ran, in milliseconds.
    pub duration_ms: u64,
    /// The folder it ran in.
    pub cwd: String,
    /// Anything else worth knowing.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The connector's one tool; its description and timeout bounds come from the configuration.
pub fn tools(config: &Config) -> Tools<Shell> {
    let description = format!(
        "Run a command on this machine and return its exit code, stdout and stderr. Give \
         either `command`, a shell line run with `{shell} -c` (pipes, redirections, && \
         work), or `argv`, a program and its arguments run directly with no shell (no \
         quoting needed). It starts in `cwd` (default: the first allowed folder), which \
         must lie under an allowed folder; it is not sandboxed beyond that. stdin is empty \
         unless `stdin` is given. The whole process group is killed after `timeout_ms` \
         (default {default} ms) or when the call is cancelled. Output lines are streamed \
         as progress; stdout and stderr are each kept up to {cap} bytes.",
        shell = config.shell,
        default = config.default_timeout_ms,
        cap = config.max_output_bytes,
    );
    let (most, default) = (config.max_timeout_ms, config.default_timeout_ms);
    Tools::new().add(
        Tool::new("run", description)
            .title("Run a command")
            .output::<Outcome>()
            .annotations(ToolAnnotations {
                title: Some("Run a command".to_string()),
                read_only_hint: Some(false),
                destructive_hint: Some(true),
                idempotent_hint: Some(false),
                open_world_hint: Some(true),
            })
            .adjust_input(move |properties| {
                properties["timeout_ms"]["maximum"] = json!(most);
                properties["timeout_ms"]["default"] = json!(default);
            }),
        call,
    )
}

/// What to run, as the call asked for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Program {
    /// A shell line.
    Line(String),
    /// A program and its arguments.
    Argv(Vec<String>),
}

impl Program {
    /// How the run is shown: the line, or the argv quoted like a shell would need it.
    pub fn shown(&self) -> String {
        match self {
            Program::Line(line) => line.clone(),
            Program::Argv(argv) => argv
                .iter()
                .map(|arg| quote(arg))
                .collect::<Vec<_>>()
                .join(" "),
        }
    }

    /// The program to start and its arguments.
    pub fn command(&self, shell: &str) -> (OsString, Vec<OsString>) {
        match self {
            Program::Line(line) => (shell.into(), vec!["-c".into(), line.into()]),
            Program::Argv(argv) => {
                let (program, args) = argv.split_first().map_or(("", &[][..]), |(p, a)| (p, a));
                (program.into(), args.iter().map(OsString::from).collect())
            }
        }
    }
}

/// Quote an argument for display when a shell would split or expand it.
fn quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

/// The arguments of a call, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// What to run.
    pub program: Program,
    /// The requested starting folder.
    pub cwd: Option<String>,
    /// The timeout, within the configured bounds.
    pub timeout: Duration,
    /// Text for stdin.
    pub stdin: Option<String>,
}

fn invalid(message: impl Into<String>) -> PluginError {
    PluginError::new(ErrorKind::INVALID_INPUT, message)
}

/// Check the arguments of a call: exactly one of `command` and `argv`, neither empty, the
/// timeout within the configured bounds.
pub fn parse(config: &Config, args: RunArgs) -> Result<Request, PluginError> {
    let program = match (args.command, args.argv) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "give either `command` (a shell line) or `argv` (a program and its \
                 arguments), not both",
            ));
        }
        (None, None) => {
            return Err(invalid(
                "give `command` (a shell line) or `argv` (a program and its arguments)",
            ));
        }
        (Some(line), None) if line.trim().is_empty() => {
            return Err(invalid("`command` is empty"));
        }
        (Some(line), None) => Program::Line(line),
        (None, Some(argv)) if argv.first().is_none_or(|p| p.is_empty()) => {
            return Err(invalid("`argv` must start with the program to run"));
        }
        (None, Some(argv)) => Program::Argv(argv),
    };
    let timeout_ms = match args.timeout_ms {
        None => config.default_timeout_ms,
        Some(0) => return Err(invalid("`timeout_ms` must be a positive integer")),
        Some(ms) => ms,
    }
    .min(config.max_timeout_ms);
    Ok(Request {
        program,
        cwd: args.cwd,
        timeout: Duration::from_millis(timeout_ms),
        stdin: args.stdin,
    })
}

/// Run the tool.
fn call(shell: &Shell, args: RunArgs, call: &Call) -> Result<ToolResult, PluginError> {
    let request = match parse(shell.config(), args) {
        Ok(request) => request,
        Err(e) => return Ok(ToolResult::error(e.message.to_string())),
    };
    let cwd = match shell
        .folders()
        .resolve(request.cwd.as_deref(), shell.home())
    {
        Ok(cwd) => cwd,
        Err(message) => return Ok(ToolResult::error(message)),
    };
    Ok(crate::runner::run(shell, &request, cwd, call))
}

/// How a finished run reads, as the tool's result.
pub struct Finished<'a> {
    /// What ran.
    pub program: &'a Program,
    /// Where.
    pub cwd: &'a str,
    /// Its exit code (`None` when killed by a signal).
    pub exit_code: Option<i32>,
    /// The signal that killed it.
    pub signal: Option<i32>,
    /// The name of that signal, when known.
    pub signal_name: Option<&'a str>,
    /// Whether its timeout stopped it.
    pub timed_out: bool,
    /// Whether cancellation stopped it.
    pub cancelled: bool,
    /// Whether the group was stopped because background processes held the output.
    pub leftovers_stopped: bool,
    /// Its stdout, capped, with a note when cut.
    pub stdout: String,
    /// Its stderr, capped, with a note when cut.
    pub stderr: String,
    /// How long it ran, in milliseconds.
    pub duration_ms: u64,
    /// The timeout it ran under, in milliseconds.
    pub timeout_ms: u64,
    /// Anything else worth knowing.
    pub notes: Vec<String>,
}

impl Finished<'_> {
    /// The tool result: readable text first, then the structured form.
    pub fn result(mut self) -> ToolResult {
        if self.leftovers_stopped {
            self.notes.insert(
                0,
                "the command exited, but processes it started in the background still held \
                 its output; its process group was stopped"
                    .to_string(),
            );
        }
        let failed =
            self.timed_out || self.cancelled || self.exit_code.is_none_or(|code| code != 0);
        let ending = if self.timed_out {
            format!(
                "timed out after {} ms; its process group was killed",
                self.timeout_ms
            )
        } else if self.cancelled {
            "cancelled; its process group was killed".to_string()
        } else {
            match (self.exit_code, self.signal) {
                (Some(code), _) => format!("exit code {code}"),
                (None, Some(signal)) => match self.signal_name {
                    Some(name) => format!("killed by signal {signal} ({name})"),
                    None => format!("killed by signal {signal}"),
                },
                (None, None) => "exit status unknown".to_string(),
            }
        };
        let mut text = format!(
            "$ {}\n({ending}, {} ms, in {})\n",
            self.program.shown(),
            self.duration_ms,
            self.cwd
        );
        for note in &self.notes {
            text.push_str(&format!("note: {note}\n"));
        }
        for (name, output) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            if output.is_empty() {
                text.push_str(&format!("{name}: (empty)\n"));
            } else {
                text.push_str(&format!("--- {name} ---\n{output}"));
                if !output.ends_with('\n') {
                    text.push('\n');
                }
            }
        }
        let structured = Outcome {
            exit_code: self.exit_code,
            signal: self.signal,
            timed_out: self.timed_out,
            cancelled: self.cancelled,
            stdout: self.stdout,
            stderr: self.stderr,
            duration_ms: self.duration_ms,
            cwd: self.cwd.to_string(),
            notes: self.notes,
        };
        ToolResult {
            content: vec![Content::text(text)],
            structured_content: serde_json::to_value(structured).ok(),
            is_error: failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    /// The arguments as the tool table reads them, then checked.
    fn parsed(config: &Config, value: Value) -> Result<Request, String> {
        let args: RunArgs = serde_json::from_value(value).map_err(|e| e.to_string())?;
        parse(config, args).map_err(|e| e.message.to_string())
    }

    #[test]
    fn exactly_one_of_command_and_argv() {
        let config = Config::default();
        for bad in [
            json!({}),
            json!({"command": "ls", "argv": ["ls"]}),
            json!({"command": "  "}),
            json!({"argv": []}),
            json!({"argv": [""]}),
            json!({"argv": ["ls", 1]}),
            json!({"command": "ls", "timeout_ms": 0}),
            json!({"command": "ls", "timeout_ms": -5}),
        ] {
            assert!(parsed(&config, bad.clone()).is_err(), "{bad}");
        }
        let line = parsed(&config, json!({"command": "ls -l"})).expect("line");
        assert_eq!(line.program, Program::Line("ls -l".into()));
        assert_eq!(
            line.timeout,
            Duration::from_millis(config.default_timeout_ms)
        );
        let argv = parsed(
            &config,
            json!({"argv": ["printf", "%s", "a b"], "timeout_ms": 99_999_999}),
        )
        .expect("argv");
        assert_eq!(argv.timeout, Duration::from_millis(config.max_timeout_ms));
        assert_eq!(argv.program.shown(), "printf %s 'a b'");
        let (program, rest) = argv.program.command("/bin/sh");
        assert_eq!(program, OsString::from("printf"));
        assert_eq!(rest, vec![OsString::from("%s"), OsString::from("a b")]);
        let (shell, rest) = line.program.command("/bin/sh");
        assert_eq!(shell, OsString::from("/bin/sh"));
        assert_eq!(rest, vec![OsString::from("-c"), OsString::from("ls -l")]);
    }

    #[test]
    fn the_schemas_come_from_the_types_and_the_configured_timeouts() {
        let config = Config {
            default_timeout_ms: 500,
            max_timeout_ms: 9_000,
            ..Config::default()
        };
        let defs = tools(&config).definitions();
        assert_eq!(defs.len(), 1);
        let input = &defs[0].input_schema;
        let mut names: Vec<&str> = input["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["argv", "command", "cwd", "stdin", "timeout_ms"]);
        assert_eq!(input["additionalProperties"], false);
        assert!(input.get("required").is_none(), "{input}");
        let timeout = &input["properties"]["timeout_ms"];
        assert_eq!(
            (timeout["minimum"].clone(), timeout["maximum"].clone()),
            (json!(1), json!(9_000))
        );
        assert_eq!(timeout["default"], 500);
        assert_eq!(input["properties"]["argv"]["minItems"], 1);
        assert!(defs[0].description.contains("default 500 ms"));
        let output = defs[0].output_schema.as_ref().unwrap();
        let mut required: Vec<&str> = output["required"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        required.sort_unstable();
        assert_eq!(
            required,
            [
                "cancelled",
                "cwd",
                "duration_ms",
                "exit_code",
                "stderr",
                "stdout",
                "timed_out"
            ]
        );
    }

    #[test]
    fn quoting_for_display() {
        assert_eq!(quote("plain-arg_1.txt"), "plain-arg_1.txt");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote("$HOME"), "'$HOME'");
    }
}
