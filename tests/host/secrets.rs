//! `switchboard secrets` against real stores: the kernel keyring (outside any login session,
//! and across `keyctl session`s), and a real Secret Service (Debian's gnome-keyring on a
//! private session bus, unlocked with a password on stdin), cross-checked with `keyctl` and
//! `secret-tool`; a `${keyring:…}` reference reaching a plugin from each.
//!
//! Without keyutils, gnome-keyring or secret-tool a test says what is missing and passes;
//! `scripts/test.sh` installs them and sets `SWITCHBOARD_TEST_REQUIRE_KEYRINGS=1`, which makes
//! that a failure, so CI cannot skip them silently.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Home, Plugin, stderr, stdout};

/// Whether a missing tool or service fails the test instead of skipping it.
fn required() -> bool {
    std::env::var_os("SWITCHBOARD_TEST_REQUIRE_KEYRINGS").is_some_and(|v| v == "1")
}

/// Skip (or, when required, fail) because `what` is missing.
fn unavailable(what: &str) {
    assert!(
        !required(),
        "{what}, and SWITCHBOARD_TEST_REQUIRE_KEYRINGS=1 says this test must run"
    );
    eprintln!("skipped: {what} (scripts/test.sh installs it)");
}

/// A name no other test (or run) uses: the stores are per user, shared by every test.
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{nanos:x}", std::process::id())
}

/// Whether `program` runs at all.
fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A home whose `probe` plugin gets `PROBE_TOKEN` from `${keyring:entry}`.
fn home_with_reference(entry: &str) -> Home {
    let home = Home::new(&format!(
        "connectors:\n  probe:\n    enabled: true\n    secrets: {{PROBE_TOKEN: \"${{keyring:{entry}}}\"}}\n"
    ));
    home.install(Plugin::Probe);
    home
}

/// `switchboard` with `env` set, `stdin` fed in.
pub(crate) fn run_with(command: &mut Command, args: &[&str], stdin: Option<&str>) -> Output {
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("run switchboard");
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

/// No file under `folder` holds `value`.
pub(crate) fn nowhere_in(folder: &Path, value: &str) {
    for entry in std::fs::read_dir(folder).into_iter().flatten() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            nowhere_in(&path, value);
        } else if let Ok(bytes) = std::fs::read(&path) {
            assert!(
                !bytes.windows(value.len()).any(|w| w == value.as_bytes()),
                "{} holds the secret's value",
                path.display()
            );
        }
    }
}

/// The kernel keyring, chosen explicitly (a developer's desktop may have a Secret Service).
pub(crate) fn keyutils(home: &Home) -> Command {
    let mut command = home.command();
    command
        .env("SWITCHBOARD_SECRET_STORE", "keyutils")
        .env_remove("DBUS_SESSION_BUS_ADDRESS");
    command
}

/// `script` (keyctl commands) in a fresh session keyring with `@u` linked in, as pam_keyinit
/// sets up a login: the user's keys are possessed there, whatever the test runs in.
pub(crate) fn keyctl_in_login(script: &str) -> Output {
    Command::new("keyctl")
        .args([
            "session",
            "-",
            "sh",
            "-c",
            &format!("keyctl link @u @s >/dev/null && {script}"),
        ])
        .output()
        .unwrap()
}

pub(crate) fn keyutils_available() -> bool {
    if !runs("keyctl", &["show", "@u"]) {
        unavailable("keyctl (Debian's keyutils) is missing or the kernel keyring is refused");
        return false;
    }
    true
}

#[test]
fn keyutils_outside_a_login_session_stores_reads_lists_and_deletes() {
    if !keyutils_available() {
        return;
    }
    let name = unique("sb-test-keyutils");
    let value = format!("v-{}", unique("value"));
    let home = home_with_reference(&name);

    let set = run_with(
        &mut keyutils(&home),
        &["secrets", "set", &name],
        Some(&value),
    );
    assert!(set.status.success(), "{}", stderr(&set));
    assert!(stdout(&set).contains("kernel keyring"), "{}", stdout(&set));
    assert!(stdout(&set).contains("gone at reboot"), "{}", stdout(&set));

    // Another process reads it back (before: "reading keyring entry … failed: AccessDenied").
    let get = run_with(
        &mut keyutils(&home),
        &["secrets", "get", &name, "--reveal"],
        None,
    );
    assert!(get.status.success(), "{}", stderr(&get));
    assert_eq!(stdout(&get).trim_end(), value);
    // keyctl, in another process, sees the same key.
    let print = keyctl_in_login(&format!("keyctl print %user:switchboard:{name}"));
    assert_eq!(String::from_utf8_lossy(&print.stdout).trim_end(), value);

    // Without --reveal the value is not printed.
    let quiet = run_with(&mut keyutils(&home), &["secrets", "get", &name], None);
    assert!(quiet.status.success());
    assert!(!stdout(&quiet).contains(&value) && !stderr(&quiet).contains(&value));

    // The reference in the configuration reaches the plugin.
    let call = run_with(&mut keyutils(&home), &["call", "probe__secret"], None);
    assert!(
        stdout(&call).contains(&format!("set ({} chars)", value.len())),
        "{}{}",
        stdout(&call),
        stderr(&call)
    );

    let list = run_with(&mut keyutils(&home), &["secrets", "list"], None);
    assert!(list.status.success(), "{}", stdout(&list));
    assert!(
        stdout(&list).contains(&format!("{name}  stored")),
        "{}",
        stdout(&list)
    );

    let delete = run_with(&mut keyutils(&home), &["secrets", "delete", &name], None);
    assert!(delete.status.success(), "{}", stderr(&delete));
    let gone = run_with(&mut keyutils(&home), &["secrets", "get", &name], None);
    assert!(!gone.status.success());
    assert!(stderr(&gone).contains("not stored"), "{}", stderr(&gone));
    let listed = run_with(&mut keyutils(&home), &["secrets", "list"], None);
    assert!(!stdout(&listed).contains(&name), "{}", stdout(&listed));

    // Nothing printed or written the value anywhere but the store.
    for output in [&set, &quiet, &call, &list, &delete] {
        assert!(!stdout(output).contains(&value) && !stderr(output).contains(&value));
    }
    nowhere_in(home.path(), &value);
}

/// A plugin keeps a token of its own (interface 1.2): it lands in the kernel keyring under
/// the plugin's prefix in this home, another process reads it back, another home does not,
/// signing out removes it, and the value is nowhere else: not in the home folder, the log,
/// the database or any output.
#[test]
fn a_secret_a_plugin_keeps_is_in_the_keyring_under_its_name_and_nowhere_else() {
    if !keyutils_available() {
        return;
    }
    let value = format!("token-{}", unique("kept"));
    let home = Home::new("connectors:\n  probe:\n    enabled: true\n");
    home.install(Plugin::Probe);
    let call = |args: &str| {
        run_with(
            &mut keyutils(&home),
            &["call", "probe__keep_token", "--args", args],
            None,
        )
    };
    let kept = call(&format!("{{\"value\": \"{value}\"}}"));
    assert!(
        stdout(&kept).contains(&format!("kept ({} chars)", value.len())),
        "{}{}",
        stdout(&kept),
        stderr(&kept)
    );
    // `secrets list` shows it, by name only: under the plugin's prefix in this home.
    let list = run_with(&mut keyutils(&home), &["secrets", "list"], None);
    let entry = stdout(&list)
        .lines()
        .find_map(|line| line.trim().strip_suffix("  stored"))
        .filter(|entry| entry.starts_with("switchboard-plugin/") && entry.ends_with("/probe/token"))
        .unwrap_or_else(|| panic!("no kept entry listed:\n{}", stdout(&list)))
        .to_string();
    // Where it lives, as keyctl in another process sees it.
    let print = keyctl_in_login(&format!("keyctl print %user:switchboard:{entry}"));
    assert_eq!(String::from_utf8_lossy(&print.stdout).trim_end(), value);
    // Another home does not see it: kept tokens are per home.
    let other = Home::new("connectors:\n  probe:\n    enabled: true\n");
    other.install(Plugin::Probe);
    let elsewhere = run_with(
        &mut keyutils(&other),
        &["call", "probe__keep_token", "--args", "{}"],
        None,
    );
    assert!(
        stdout(&elsewhere).contains("none kept"),
        "{}",
        stdout(&elsewhere)
    );
    // A new process reads it back.
    let again = call("{}");
    assert!(
        stdout(&again).contains(&format!("kept ({} chars)", value.len())),
        "{}",
        stdout(&again)
    );
    // Signing out removes it.
    let forgotten = call("{\"forget\": true}");
    assert!(
        stdout(&forgotten).contains("none kept"),
        "{}{}",
        stdout(&forgotten),
        stderr(&forgotten)
    );
    let gone = keyctl_in_login(&format!("keyctl print %user:switchboard:{entry}"));
    assert!(!gone.status.success(), "the key is removed");
    let listed = run_with(&mut keyutils(&home), &["secrets", "list"], None);
    assert!(
        !stdout(&listed).contains("switchboard-plugin/probe"),
        "{}",
        stdout(&listed)
    );
    for output in [&kept, &list, &again, &forgotten, &listed] {
        assert!(!stdout(output).contains(&value) && !stderr(output).contains(&value));
    }
    nowhere_in(home.path(), &value);
}

#[test]
fn keyutils_values_cross_keyctl_sessions() {
    if !keyutils_available() {
        return;
    }
    let name = unique("sb-test-sessions");
    let home = Home::new("");
    // `keyctl session - CMD` runs CMD in a new anonymous session keyring: a value stored in one
    // session's keyring would be invisible to the next.
    let in_session = |args: &[&str], stdin: Option<&str>| {
        let mut command = Command::new("keyctl");
        command
            .args(["session", "-", crate::support::binary().to_str().unwrap()])
            .env("SWITCHBOARD_HOME", home.path())
            .env("SWITCHBOARD_SECRET_STORE", "keyutils")
            .env_remove("DBUS_SESSION_BUS_ADDRESS");
        run_with(&mut command, args, stdin)
    };
    let set = in_session(&["secrets", "set", &name], Some("across\n"));
    assert!(set.status.success(), "{}", stderr(&set));
    let get = in_session(&["secrets", "get", &name, "--reveal"], None);
    assert!(get.status.success(), "{}", stderr(&get));
    assert_eq!(stdout(&get).trim_end(), "across");
    let test = in_session(&["secrets", "test"], None);
    assert!(test.status.success(), "{}", stdout(&test));
    assert!(
        stdout(&test).contains("round trip:  ok"),
        "{}",
        stdout(&test)
    );
    let delete = in_session(&["secrets", "delete", &name], None);
    assert!(delete.status.success(), "{}", stderr(&delete));
}

#[test]
fn set_refuses_what_it_cannot_store_and_leaves_nothing() {
    if !keyutils_available() {
        return;
    }
    let home = Home::new("");
    // A name a reference cannot say.
    let bad = run_with(
        &mut keyutils(&home),
        &["secrets", "set", "a}b"],
        Some("value\n"),
    );
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("cannot name a secret"),
        "{}",
        stderr(&bad)
    );
    // No value on stdin.
    let name = unique("sb-test-empty");
    let empty = run_with(&mut keyutils(&home), &["secrets", "set", &name], Some(""));
    assert!(!empty.status.success());
    assert!(
        stderr(&empty).contains("nothing stored"),
        "{}",
        stderr(&empty)
    );
    let get = run_with(&mut keyutils(&home), &["secrets", "get", &name], None);
    assert!(!get.status.success(), "{}", stdout(&get));
    let list = run_with(&mut keyutils(&home), &["secrets", "list"], None);
    assert!(
        stdout(&list).contains("no secrets stored"),
        "{}",
        stdout(&list)
    );

    // A value removed behind switchboard's back is reported by list, which then fails.
    let name = unique("sb-test-vanished");
    let set = run_with(
        &mut keyutils(&home),
        &["secrets", "set", &name],
        Some("x\n"),
    );
    assert!(set.status.success(), "{}", stderr(&set));
    let unlink = keyctl_in_login(&format!(
        "keyctl invalidate $(keyctl search @u user switchboard:{name})"
    ));
    assert!(unlink.status.success(), "{}", stderr(&unlink));
    let list = run_with(&mut keyutils(&home), &["secrets", "list"], None);
    assert!(!list.status.success());
    assert!(
        stdout(&list).contains(&format!("{name}  missing from the store")),
        "{}",
        stdout(&list)
    );
    run_with(&mut keyutils(&home), &["secrets", "delete", &name], None);
}

#[test]
fn an_unknown_store_name_is_refused_with_the_choices() {
    let home = Home::new("");
    let output = run_with(
        home.command().env("SWITCHBOARD_SECRET_STORE", "vault"),
        &["secrets", "test"],
        None,
    );
    assert!(!output.status.success());
    assert!(
        stdout(&output).contains("\"vault\" is no store")
            && stdout(&output).contains("${env:NAME}"),
        "{}",
        stdout(&output)
    );
}

/// A private session bus with gnome-keyring's Secret Service on it, its login keyring created
/// and unlocked with a password on stdin, all in a throwaway folder.
struct SecretService {
    bus: Child,
    keyring: Child,
    address: String,
    _folder: tempfile::TempDir,
}

impl SecretService {
    fn start() -> Option<Self> {
        for (program, package) in [
            ("gnome-keyring-daemon", "gnome-keyring"),
            ("secret-tool", "libsecret-tools"),
            ("dbus-daemon", "dbus-daemon"),
            ("dbus-send", "dbus-bin"),
        ] {
            if Command::new(program)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_err()
            {
                unavailable(&format!("{program} (Debian's {package}) is missing"));
                return None;
            }
        }
        let folder = tempfile::tempdir().unwrap();
        for sub in ["home", "data", "config", "run"] {
            std::fs::create_dir_all(folder.path().join(sub)).unwrap();
        }
        std::fs::set_permissions(
            folder.path().join("run"),
            <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o700),
        )
        .unwrap();
        let mut bus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut address = String::new();
        BufReader::new(bus.stdout.take().unwrap())
            .read_line(&mut address)
            .unwrap();
        let address = address.trim().to_string();
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .envs(Self::environment(folder.path(), &address))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The login keyring's password, then end of input: the keyring is created unlocked.
        let mut stdin = keyring.stdin.take().unwrap();
        stdin.write_all(b"test-password").unwrap();
        drop(stdin);
        let service = Self {
            bus,
            keyring,
            address,
            _folder: folder,
        };
        service.until_named();
        Some(service)
    }

    /// The variables gnome-keyring and its clients need: the bus, and folders of the test's.
    fn environment(folder: &Path, address: &str) -> Vec<(String, String)> {
        let at = |sub: &str| folder.join(sub).display().to_string();
        vec![
            ("DBUS_SESSION_BUS_ADDRESS".into(), address.to_string()),
            ("HOME".into(), at("home")),
            ("XDG_DATA_HOME".into(), at("data")),
            ("XDG_CONFIG_HOME".into(), at("config")),
            ("XDG_RUNTIME_DIR".into(), at("run")),
        ]
    }

    /// Wait until org.freedesktop.secrets has an owner on the bus.
    fn until_named(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let reply = Command::new("dbus-send")
                .args([
                    &format!("--bus={}", self.address),
                    "--dest=org.freedesktop.DBus",
                    "--print-reply",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    "string:org.freedesktop.secrets",
                ])
                .output()
                .unwrap();
            if String::from_utf8_lossy(&reply.stdout).contains("boolean true") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "gnome-keyring-daemon did not take org.freedesktop.secrets within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `program` with this bus and these folders.
    fn command(&self, mut command: Command) -> Command {
        command.envs(Self::environment(self._folder.path(), &self.address));
        command
    }

    fn secret_tool(&self, args: &[&str], stdin: Option<&str>) -> Output {
        run_with(&mut self.command(Command::new("secret-tool")), args, stdin)
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        let _ = self.keyring.kill();
        let _ = self.keyring.wait();
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}

#[test]
fn the_secret_service_is_used_when_the_session_bus_has_one() {
    let Some(service) = SecretService::start() else {
        return;
    };
    let name = unique("sb-test-ss");
    let value = format!("v-{}", unique("value"));
    let home = home_with_reference(&name);
    let switchboard = || {
        let mut command = service.command(home.command());
        command.env_remove("SWITCHBOARD_SECRET_STORE");
        command
    };

    let test = run_with(&mut switchboard(), &["secrets", "test"], None);
    assert!(test.status.success(), "{}", stdout(&test));
    assert!(
        stdout(&test).contains("Secret Service"),
        "{}",
        stdout(&test)
    );
    assert!(
        stdout(&test).contains("kept across reboots"),
        "{}",
        stdout(&test)
    );

    let set = run_with(&mut switchboard(), &["secrets", "set", &name], Some(&value));
    assert!(set.status.success(), "{}", stderr(&set));
    // secret-tool (libsecret) finds it under the attributes switchboard documents.
    let lookup = service.secret_tool(
        &["lookup", "service", "switchboard", "username", &name],
        None,
    );
    assert_eq!(String::from_utf8_lossy(&lookup.stdout).trim_end(), value);

    // The configuration's reference reaches the plugin.
    let call = run_with(&mut switchboard(), &["call", "probe__secret"], None);
    assert!(
        stdout(&call).contains(&format!("set ({} chars)", value.len())),
        "{}{}",
        stdout(&call),
        stderr(&call)
    );

    // A value stored by another client is read by switchboard.
    let other = unique("sb-test-ss-tool");
    let store = service.secret_tool(
        &[
            "store",
            "--label=test",
            "service",
            "switchboard",
            "username",
            &other,
        ],
        Some("from-secret-tool"),
    );
    assert!(store.status.success(), "{}", stderr(&store));
    let get = run_with(
        &mut switchboard(),
        &["secrets", "get", &other, "--reveal"],
        None,
    );
    assert_eq!(
        stdout(&get).trim_end(),
        "from-secret-tool",
        "{}",
        stderr(&get)
    );

    let doctor = run_with(&mut switchboard(), &["doctor"], None);
    assert!(
        stdout(&doctor).contains("secrets:       the Secret Service")
            && stdout(&doctor).contains("round trip:  ok"),
        "{}",
        stdout(&doctor)
    );

    let delete = run_with(&mut switchboard(), &["secrets", "delete", &name], None);
    assert!(delete.status.success(), "{}", stderr(&delete));
    let lookup = service.secret_tool(
        &["lookup", "service", "switchboard", "username", &name],
        None,
    );
    assert!(lookup.stdout.is_empty(), "still there after delete");
    run_with(&mut switchboard(), &["secrets", "delete", &other], None);

    for output in [&test, &set, &call, &doctor, &delete] {
        assert!(!stdout(output).contains(&value) && !stderr(output).contains(&value));
    }
    nowhere_in(home.path(), &value);
}

#[test]
fn naming_the_secret_service_without_one_fails_instead_of_falling_back() {
    let home = Home::new("");
    let output = run_with(
        home.command()
            .env("SWITCHBOARD_SECRET_STORE", "secret-service")
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus"),
        &["secrets", "set", "anything"],
        Some("value\n"),
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("the Secret Service did not answer")
            && stderr(&output).contains("${env:NAME}"),
        "{}",
        stderr(&output)
    );
}
