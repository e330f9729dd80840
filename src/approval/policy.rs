//! The approval policy: which tools run, which are asked about, which are refused, and why.
//!
//! Rules come first (any `deny` wins, then any `ask`, then any `allow`); a tool no rule
//! matches gets the default, which by default reads the tool's annotations, but only those
//! of providers whose annotations are trusted: a third-party plugin or server saying
//! "read-only" proves nothing.

use globset::{Glob, GlobSet, GlobSetBuilder};
use rmcp::model::ToolAnnotations;

use crate::config::{ApprovalsConfig, DefaultDecision, RuleDecision};

/// What the policy says about a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Run it.
    Allow,
    /// Ask the person first.
    Ask,
    /// Refuse it.
    Deny,
}

impl Decision {
    /// The word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Ask => "ask",
            Decision::Deny => "deny",
        }
    }
}

/// A decision and the reason, for logs, errors and `approvals explain`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// What happens.
    pub decision: Decision,
    /// Which rule or default decided, and why.
    pub reason: String,
}

/// What the policy needs to know about a tool.
pub struct Subject<'a> {
    /// The tool's name as clients see it.
    pub tool: &'a str,
    /// Its provider's name.
    pub provider: &'a str,
    /// Whether the provider's annotations are believed by default (switchboard's own and
    /// bundled connectors).
    pub provider_trusted: bool,
    /// The tool's annotations.
    pub annotations: Option<&'a ToolAnnotations>,
}

struct Rule {
    label: String,
    tools: Option<GlobSet>,
    provider: Option<String>,
    decision: RuleDecision,
}

/// The compiled policy.
pub struct Policy {
    default: DefaultDecision,
    rules: Vec<Rule>,
    trusted: Vec<String>,
    version: String,
}

impl Policy {
    /// Compile `config` (its globs were checked when the configuration was loaded).
    pub fn new(config: &ApprovalsConfig) -> Self {
        let rules = config
            .rules
            .iter()
            .enumerate()
            .map(|(index, rule)| {
                let tools = (!rule.tools.is_empty()).then(|| {
                    let mut set = GlobSetBuilder::new();
                    for glob in &rule.tools {
                        if let Ok(glob) = Glob::new(glob) {
                            set.add(glob);
                        }
                    }
                    set.build().unwrap_or_else(|_| GlobSet::empty())
                });
                let mut label = format!("approvals.rules[{index}]");
                if !rule.tools.is_empty() {
                    label.push_str(&format!(" (tools {:?})", rule.tools));
                }
                if let Some(provider) = &rule.provider {
                    label.push_str(&format!(" (provider {provider})"));
                }
                Rule {
                    label,
                    tools,
                    provider: rule.provider.clone(),
                    decision: rule.decision,
                }
            })
            .collect();
        let version = crate::state::audit::digest(&format!(
            "{:?}|{:?}|{:?}",
            config.default, config.rules, config.trust_annotations
        ));
        Self {
            default: config.default,
            rules,
            trusted: config.trust_annotations.clone(),
            version,
        }
    }

    /// What happens to a call of `subject`, and why.
    pub fn decide(&self, subject: &Subject<'_>) -> Verdict {
        let matching: Vec<&Rule> = self
            .rules
            .iter()
            .filter(|rule| {
                rule.provider
                    .as_deref()
                    .is_none_or(|p| p == subject.provider)
            })
            .filter(|rule| {
                rule.tools
                    .as_ref()
                    .is_none_or(|set| set.is_match(subject.tool))
            })
            .collect();
        for wanted in [RuleDecision::Deny, RuleDecision::Ask, RuleDecision::Allow] {
            if let Some(rule) = matching.iter().find(|r| r.decision == wanted) {
                let decision = match wanted {
                    RuleDecision::Deny => Decision::Deny,
                    RuleDecision::Ask => Decision::Ask,
                    RuleDecision::Allow => Decision::Allow,
                };
                return Verdict {
                    decision,
                    reason: format!("rule {} says {}", rule.label, decision.as_str()),
                };
            }
        }
        match self.default {
            DefaultDecision::Allow => fixed(Decision::Allow),
            DefaultDecision::Ask => fixed(Decision::Ask),
            DefaultDecision::Deny => fixed(Decision::Deny),
            DefaultDecision::Annotations => self.by_annotations(subject),
        }
    }

    /// The deny rule that refuses a read (a resource, prompt or completion) of `provider`, if
    /// any: a rule for that provider (or any) whose tool globs are absent or, for something
    /// named like a tool (a prompt), match `name`. Reads are never asked about.
    pub fn refuses_read(&self, provider: &str, name: Option<&str>) -> Option<&str> {
        self.rules
            .iter()
            .filter(|rule| rule.decision == RuleDecision::Deny)
            .filter(|rule| rule.provider.as_deref().is_none_or(|p| p == provider))
            .find(|rule| match (&rule.tools, name) {
                (None, _) => true,
                (Some(globs), Some(name)) => globs.is_match(name),
                (Some(_), None) => false,
            })
            .map(|rule| rule.label.as_str())
    }

    /// Whether the subject's annotations are believed.
    pub fn trusts(&self, subject: &Subject<'_>) -> bool {
        subject.provider_trusted || self.trusted.iter().any(|p| p == subject.provider)
    }

    /// A digest of the configuration this policy was compiled from: a sealed approval is
    /// bound to it, so changing the policy voids answers in flight.
    pub fn version(&self) -> &str {
        &self.version
    }

    fn by_annotations(&self, subject: &Subject<'_>) -> Verdict {
        if !self.trusts(subject) {
            return Verdict {
                decision: Decision::Ask,
                reason: format!(
                    "default: {} is not trusted to describe its tools (add it to approvals.trust_annotations to believe its annotations), so its tools are asked about",
                    subject.provider
                ),
            };
        }
        let hints = subject.annotations;
        let read_only = hints.and_then(|a| a.read_only_hint) == Some(true);
        if read_only {
            return Verdict {
                decision: Decision::Allow,
                reason: "default: the tool's trusted annotations say it is read-only".into(),
            };
        }
        let what = match hints {
            None => "the tool has no annotations, so it may change things",
            Some(a) if a.destructive_hint != Some(false) => "the tool may be destructive",
            Some(a) if a.open_world_hint != Some(false) => "the tool reaches outside this machine",
            Some(_) => "the tool is not read-only",
        };
        Verdict {
            decision: Decision::Ask,
            reason: format!("default: {what}"),
        }
    }
}

fn fixed(decision: Decision) -> Verdict {
    Verdict {
        decision,
        reason: format!("default: approvals.default is {}", decision.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ApprovalRule;

    fn policy(rules: Vec<ApprovalRule>) -> Policy {
        Policy::new(&ApprovalsConfig {
            rules,
            trust_annotations: vec!["notes".into()],
            ..ApprovalsConfig::default()
        })
    }

    fn rule(tools: &[&str], provider: Option<&str>, decision: RuleDecision) -> ApprovalRule {
        ApprovalRule {
            tools: tools.iter().map(|s| s.to_string()).collect(),
            provider: provider.map(str::to_string),
            decision,
        }
    }

    fn subject<'a>(
        tool: &'a str,
        provider: &'a str,
        trusted: bool,
        hints: Option<&'a ToolAnnotations>,
    ) -> Subject<'a> {
        Subject {
            tool,
            provider,
            provider_trusted: trusted,
            annotations: hints,
        }
    }

    #[test]
    fn deny_beats_ask_beats_allow() {
        let p = policy(vec![
            rule(&["files__*"], None, RuleDecision::Allow),
            rule(&["files__delete"], None, RuleDecision::Deny),
            rule(&[], Some("files"), RuleDecision::Ask),
        ]);
        assert_eq!(
            p.decide(&subject("files__delete", "files", true, None))
                .decision,
            Decision::Deny
        );
        let read = p.decide(&subject("files__read", "files", true, None));
        assert_eq!(read.decision, Decision::Ask);
        assert!(
            read.reason.contains("approvals.rules[2]"),
            "{}",
            read.reason
        );
        // Another provider: only the tool-name rule matches.
        assert_eq!(
            p.decide(&subject("files__read", "other", true, None))
                .decision,
            Decision::Allow
        );
    }

    #[test]
    fn annotations_count_only_when_trusted() {
        let p = policy(vec![]);
        let read_only = ToolAnnotations::new().read_only(true);
        let destructive = ToolAnnotations::new().read_only(false).destructive(true);
        assert_eq!(
            p.decide(&subject("files__read", "files", true, Some(&read_only)))
                .decision,
            Decision::Allow
        );
        assert_eq!(
            p.decide(&subject("files__rm", "files", true, Some(&destructive)))
                .decision,
            Decision::Ask
        );
        assert_eq!(
            p.decide(&subject("x__read", "x", false, Some(&read_only)))
                .decision,
            Decision::Ask
        );
        // Trusted by configuration.
        assert_eq!(
            p.decide(&subject("notes__read", "notes", false, Some(&read_only)))
                .decision,
            Decision::Allow
        );
        // No annotations: asked.
        assert_eq!(
            p.decide(&subject("files__x", "files", true, None)).decision,
            Decision::Ask
        );
    }
}
