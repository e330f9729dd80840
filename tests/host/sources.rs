//! `switchboard sources`: a source set up, signed in, tested and removed from the terminal,
//! against the real binary, the kernel keyring and the connectors' stand-in services
//! (`tests/mocks`); and the unified search over all four sources at once.

use std::process::Output;

use serde_json::Value;

use crate::secrets::{keyctl_in_login, keyutils, keyutils_available, nowhere_in, run_with};
use crate::support::{Home, Plugin, stderr, stdout};

/// `switchboard <args>` in `home` with the kernel keyring, `stdin` fed in.
fn sb(home: &Home, args: &[&str], stdin: Option<&str>) -> Output {
    run_with(&mut keyutils(home), args, stdin)
}

fn both(output: &Output) -> String {
    format!("{}{}", stdout(output), stderr(output))
}

fn list_json(home: &Home) -> Value {
    let output = sb(home, &["sources", "list", "--json"], None);
    assert!(output.status.success(), "{}", both(&output));
    serde_json::from_str(&stdout(&output)).expect("sources list --json is JSON")
}

fn entry<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .and_then(|all| all.iter().find(|e| e["name"] == name))
        .unwrap_or_else(|| panic!("{name} is not listed: {list}"))
}

/// The generic road, with the probe plugin (a data source declaring one secret): a setting
/// the schema refuses writes nothing; `add` writes the section beside the person's comments
/// and the secret into the keyring (only its reference into the file); the plugin runs with
/// both; `remove` takes the section and the entry away again.
#[test]
fn add_writes_the_section_and_the_keyring_and_remove_takes_both_away() {
    if !keyutils_available() {
        return;
    }
    let home = Home::new(
        "# my own notes: keep them\nsearch:\n  default_limit: 7 # mine too\nconnectors:\n  # files stay off here\n  files:\n    enabled: false\n",
    );
    home.install(Plugin::Probe);
    let config = home.path().join("config.yaml");
    let before = std::fs::read_to_string(&config).unwrap();
    let listed = list_json(&home);
    let probe = entry(&listed, "probe");
    assert_eq!(
        (&probe["configured"], &probe["enabled"]),
        (&Value::Bool(false), &Value::Bool(false))
    );

    // Refused by the plugin's schema: nothing written, nothing stored.
    let refused = sb(
        &home,
        &[
            "sources",
            "add",
            "probe",
            "--set",
            "colour=blue",
            "--secret",
            "PROBE_TOKEN",
        ],
        Some("never-stored\n"),
    );
    assert!(!refused.status.success());
    assert!(
        both(&refused).contains("colour") && both(&refused).contains("nothing was written"),
        "{}",
        both(&refused)
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);
    // A secret the plugin does not declare is refused by name.
    let undeclared = sb(
        &home,
        &["sources", "add", "probe", "--secret", "PASSWORD"],
        Some("x\n"),
    );
    assert!(
        both(&undeclared).contains("declares no secret \"PASSWORD\""),
        "{}",
        both(&undeclared)
    );

    let value = format!("probe-secret-{}", std::process::id());
    let added = sb(
        &home,
        &[
            "sources",
            "add",
            "probe",
            "--set",
            "greeting=hello there",
            "--secret",
            "PROBE_TOKEN",
        ],
        Some(&format!("{value}\n")),
    );
    assert!(added.status.success(), "{}", both(&added));
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("# my own notes: keep them\n"), "{text}");
    assert!(
        text.contains("default_limit: 7 # mine too") && text.contains("# files stay off here"),
        "{text}"
    );
    assert!(text.contains("  probe:\n    enabled: true\n"), "{text}");
    assert!(text.contains("\"greeting\": \"hello there\""), "{text}");
    let reference = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("\"PROBE_TOKEN\": \""))
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or_else(|| panic!("no reference in {text}"))
        .to_string();
    let keyring_entry = reference
        .strip_prefix("${keyring:")
        .and_then(|r| r.strip_suffix('}'))
        .expect("a keyring reference")
        .to_string();
    assert!(
        keyring_entry.starts_with("switchboard-source/")
            && keyring_entry.ends_with("/probe/PROBE_TOKEN")
    );
    let stored = keyctl_in_login(&format!("keyctl print %user:switchboard:{keyring_entry}"));
    assert_eq!(String::from_utf8_lossy(&stored.stdout).trim_end(), value);

    // The plugin runs with the setting and the secret.
    let greet = sb(&home, &["call", "probe__greet"], None);
    assert!(stdout(&greet).contains("hello there"), "{}", both(&greet));
    let secret = sb(&home, &["call", "probe__secret"], None);
    assert!(
        stdout(&secret).contains(&format!("set ({} chars)", value.len())),
        "{}",
        both(&secret)
    );
    let listed = list_json(&home);
    let probe = entry(&listed, "probe");
    assert_eq!(probe["enabled"], true);
    assert!(
        probe["secrets"][0]["state"]
            .as_str()
            .unwrap()
            .starts_with("set ("),
        "{probe}"
    );
    // The probe has no live check: `test` says so instead of pretending.
    let test = sb(&home, &["sources", "test", "probe"], None);
    assert!(!test.status.success());
    assert!(
        both(&test).contains("offers no check tool"),
        "{}",
        both(&test)
    );
    // Adding again with one more setting keeps the secret's reference.
    let again = sb(
        &home,
        &["sources", "add", "probe", "--set", "greeting=hi"],
        None,
    );
    assert!(again.status.success(), "{}", both(&again));
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains(&reference)
            && text.contains("\"greeting\": \"hi\"")
            && text.matches("probe:").count() == 1,
        "{text}"
    );

    let removed = sb(&home, &["sources", "remove", "probe"], None);
    assert!(removed.status.success(), "{}", both(&removed));
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(!text.contains("probe"), "{text}");
    assert!(
        text.contains("# my own notes: keep them\n") && text.contains("# files stay off here"),
        "{text}"
    );
    let gone = keyctl_in_login(&format!("keyctl print %user:switchboard:{keyring_entry}"));
    assert!(!gone.status.success(), "the keyring entry is removed");
    let names = sb(&home, &["secrets", "list"], None);
    assert!(!stdout(&names).contains("probe"), "{}", stdout(&names));
    for output in [&added, &greet, &secret, &again, &removed] {
        assert!(!both(output).contains(&value));
    }
    nowhere_in(home.path(), &value);
}
