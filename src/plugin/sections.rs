//! Each `connectors.<name>` section of `config.yaml` checked against the plugin it
//! configures: the check loading applies before it creates a plugin ([`check`]), and what
//! `config check` applies to every section ([`check_all`]), so a section the check calls good
//! is one the server takes.
//!
//! A section must name a plugin that is installed (or one shipped with switchboard, whose
//! library may be absent from a build); any other name is refused with the nearest known one,
//! since a misspelt section is otherwise silently unused.

use std::collections::BTreeMap;

use switchboard_plugin_api::Manifest;

use crate::config::{ConnectorConfig, EMBEDDED_DEFAULT, Loaded, Source};

/// Check `section` (the plugin's part of the configuration from `source`) against what the
/// plugin declares. The error names the file and the dotted key.
pub fn check(
    manifest: &Manifest,
    section: &ConnectorConfig,
    source: &Source,
) -> Result<(), String> {
    super::validate_config(&manifest.config_schema, &section.config)
        .map_err(|e| format!("{source}: connectors.{}.config{e}", manifest.name))
}

/// What became of one section in [`check_all`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Checked against the plugin's schema and good: the plugin's name and version.
    Good(String),
    /// Good as far as it can be told: a plugin shipped with switchboard that is not installed
    /// here, or a library that could not be opened (the reason).
    Unchecked(String),
    /// Wrong: what the server would refuse, or a name no plugin has.
    Wrong(String),
}

/// Every section of `loaded`, in name order, against the libraries its folders hold now
/// (each opened in a child process, as a first load does, so a broken file cannot end the
/// check).
pub fn check_all(loaded: &Loaded) -> Vec<(String, Verdict)> {
    if loaded.config.connectors.is_empty() {
        return Vec::new();
    }
    let installed = installed(loaded);
    let shipped = shipped_names();
    loaded
        .config
        .connectors
        .iter()
        .map(|(name, section)| {
            let verdict = match installed.get(name) {
                Some(Ok(manifest)) => match check(manifest, section, &loaded.source) {
                    Ok(()) => Verdict::Good(format!("{} {}", manifest.name, manifest.version)),
                    Err(e) => Verdict::Wrong(e),
                },
                Some(Err(reason)) => Verdict::Unchecked(reason.clone()),
                None if shipped.iter().any(|s| s == name) => Verdict::Unchecked(format!(
                    "the {name} connector ships with switchboard but is not installed here"
                )),
                None => {
                    let known: Vec<&str> = installed
                        .keys()
                        .map(String::as_str)
                        .chain(shipped.iter().map(String::as_str))
                        .collect();
                    Verdict::Wrong(unknown_name(name, &known, loaded))
                }
            };
            (name.clone(), verdict)
        })
        .collect()
}

/// The plugins in the folders by name (the first of a name wins, as when loading); a
/// library that cannot be opened is kept under its file name with the reason.
pub(crate) fn installed(loaded: &Loaded) -> BTreeMap<String, Result<Manifest, String>> {
    let mut found = BTreeMap::new();
    for (folder, bundled) in super::folders(loaded) {
        for path in super::libraries_in(&folder, bundled) {
            match super::probe::probe(&path) {
                Ok(manifest) => {
                    found.entry(manifest.name.clone()).or_insert(Ok(manifest));
                }
                Err(reason) => {
                    let stem = library_stem(&path);
                    found
                        .entry(stem)
                        .or_insert_with(|| Err(format!("{}: {reason}", path.display())));
                }
            }
        }
    }
    found
}

/// `libswitchboard_files.so` → `files`: the name a library most likely has, used only to
/// say which section an unreadable library leaves unchecked.
fn library_stem(path: &std::path::Path) -> String {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let stem = stem
        .strip_prefix(std::env::consts::DLL_PREFIX)
        .unwrap_or(stem);
    stem.strip_prefix("switchboard_")
        .unwrap_or(stem)
        .to_string()
}

/// The connectors shipped with switchboard: the sections of the embedded default.
fn shipped_names() -> Vec<String> {
    crate::config::parse(EMBEDDED_DEFAULT, &Source::Embedded)
        .map(|c| c.connectors.into_keys().collect())
        .unwrap_or_default()
}

fn unknown_name(name: &str, known: &[&str], loaded: &Loaded) -> String {
    let folders: Vec<String> = super::folders(loaded)
        .iter()
        .map(|(folder, _)| folder.display().to_string())
        .collect();
    let mut message = format!(
        "{}: connectors.{name}: no plugin named {name:?} is installed (looked in {})",
        loaded.source,
        folders.join(", ")
    );
    match nearest(name, known) {
        Some(near) => message.push_str(&format!("; did you mean `{near}`?")),
        None if known.is_empty() => message.push_str("; no plugin is installed"),
        None => message.push_str(&format!("; known: {}", known.join(", "))),
    }
    message
}

/// The known name closest to `name`, if it is close enough to be a slip of the fingers.
fn nearest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(2);
    known
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, k)| k)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_names() {
        assert_eq!(nearest("fiels", &["files", "shell"]), Some("files"));
        assert_eq!(nearest("shel", &["files", "shell"]), Some("shell"));
        assert_eq!(nearest("database", &["files", "shell"]), None);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn library_stems() {
        let name = format!(
            "{}switchboard_files{}",
            std::env::consts::DLL_PREFIX,
            std::env::consts::DLL_SUFFIX
        );
        assert_eq!(library_stem(std::path::Path::new(&name)), "files");
    }
}
