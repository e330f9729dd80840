//! The catalog: every provider's offer merged under one namespace, and what changed.
//!
//! Names are deterministic (`<prefix>__<name>`, a configured prefix, or none). Two owners of
//! one tool or prompt name are a [`Collision`], never a silent shadow. Resource URIs take no
//! prefix (they are the providers' own), so two owners of one URI cannot be told apart by
//! configuring one: the earlier member keeps it and the later one's copy alone is
//! [`Withheld`], reported, while the rest of that provider is served. Readers take an
//! immutable [`Snapshot`] (one `Arc` clone), so listing and routing never wait on a refresh.

pub mod naming;
pub mod template;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use rmcp::model::{Prompt, Resource, ResourceTemplate, Tool};

use crate::provider::{Offer, SharedProvider};
use template::UriTemplate;

/// Where a tool name leads.
#[derive(Clone)]
pub struct ToolRoute {
    /// The provider.
    pub provider: SharedProvider,
    /// The provider's own name for it.
    pub local: String,
    /// The definition as clients see it (exposed name).
    pub tool: Tool,
}

/// Where a prompt name leads.
#[derive(Clone)]
pub struct PromptRoute {
    /// The provider.
    pub provider: SharedProvider,
    /// The provider's own name for it.
    pub local: String,
    /// The definition as clients see it.
    pub prompt: Prompt,
}

/// A resource and its owner.
#[derive(Clone)]
pub struct ResourceRoute {
    /// The provider.
    pub provider: SharedProvider,
    /// The definition.
    pub resource: Resource,
}

/// A resource template and its owner.
#[derive(Clone)]
pub struct TemplateRoute {
    /// The provider.
    pub provider: SharedProvider,
    /// The definition.
    pub template: ResourceTemplate,
    matcher: UriTemplate,
}

/// The catalog at one moment.
#[derive(Clone, Default)]
pub struct Snapshot {
    /// Tools by exposed name (shared: a call holds its route without copying the definition).
    pub tools: BTreeMap<String, Arc<ToolRoute>>,
    /// Prompts by exposed name.
    pub prompts: BTreeMap<String, PromptRoute>,
    /// Resources by URI.
    pub resources: BTreeMap<String, ResourceRoute>,
    /// Templates, most specific first.
    pub templates: Vec<TemplateRoute>,
    /// Resources and templates not served because an earlier member offers the same URI.
    pub withheld: Vec<Withheld>,
}

impl Snapshot {
    /// The provider that serves `uri`: a concrete resource, else the most specific template.
    pub fn resource_owner(&self, uri: &str) -> Option<&SharedProvider> {
        if let Some(route) = self.resources.get(uri) {
            return Some(&route.provider);
        }
        self.templates
            .iter()
            .find(|t| t.matcher.matches(uri))
            .map(|t| &t.provider)
    }

    /// The template route whose template text is `uri_template`.
    pub fn template(&self, uri_template: &str) -> Option<&TemplateRoute> {
        self.templates
            .iter()
            .find(|t| t.template.uri_template == uri_template)
    }
}

/// Two providers offering one tool or prompt name.
#[derive(Clone, Debug, thiserror::Error)]
#[error(
    "{kind} {name:?} is offered by both {first} and {second}; give one of them another prefix in config.yaml (connectors.<name>.prefix) or servers_config.json"
)]
pub struct Collision {
    /// `tool` or `prompt`.
    pub kind: &'static str,
    /// The contested name.
    pub name: String,
    /// The owner already there.
    pub first: String,
    /// The owner that collided.
    pub second: String,
}

/// A resource (or template) a later member offers under a URI an earlier one already
/// serves: the earlier keeps it, this one's copy is not served.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Withheld {
    /// `resource` or `resource template`.
    pub kind: String,
    /// The contested URI (or URI template).
    pub uri: String,
    /// The provider that serves it.
    pub kept_by: String,
    /// The provider whose copy is withheld.
    pub from: String,
}

impl std::fmt::Display for Withheld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            kind,
            uri,
            kept_by,
            from,
        } = self;
        write!(
            f,
            "{kind} {uri:?} is offered by both {kept_by} and {from}: {kept_by}'s is served, {from}'s is withheld (the rest of {from} is served). {}",
            self.advice()
        )
    }
}

impl Withheld {
    /// What the person can do: URIs take no prefix, so only taking the URI away from the
    /// provider that keeps it changes who serves it.
    pub fn advice(&self) -> String {
        let Self { kept_by, from, .. } = self;
        format!(
            "Resource URIs are the providers' own and take no prefix; to serve {from}'s instead, stop {kept_by} offering it (\"disabled\": true for a server in servers_config.json, connectors.{kept_by}.enabled: false for a plugin)"
        )
    }
}

/// A provider's name is unusable.
#[derive(Clone, Debug, thiserror::Error)]
#[error(
    "{owner} offers a {kind} named {name:?}, which is not a valid name (letters, digits, '_' and '-', at most 64 characters with the prefix)"
)]
pub struct BadName {
    /// `tool` or `prompt`.
    pub kind: &'static str,
    /// The exposed name.
    pub name: String,
    /// Its provider.
    pub owner: String,
}

/// Why a set of offers cannot be merged.
#[derive(Clone, Debug, thiserror::Error)]
pub enum MergeError {
    /// Two owners of one name.
    #[error(transparent)]
    Collision(#[from] Collision),
    /// A name outside the rules.
    #[error(transparent)]
    BadName(#[from] BadName),
}

impl MergeError {
    /// The provider that should be dropped to resolve this (the later one).
    pub fn culprit(&self) -> &str {
        match self {
            MergeError::Collision(c) => &c.second,
            MergeError::BadName(b) => &b.owner,
        }
    }
}

/// What kinds of things changed between two snapshots.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// The tool list.
    pub tools: bool,
    /// The resource or template lists.
    pub resources: bool,
    /// The prompt list.
    pub prompts: bool,
}

impl Changes {
    /// Whether anything changed.
    pub fn any(self) -> bool {
        self.tools || self.resources || self.prompts
    }
}

/// A provider with the prefix its names get.
#[derive(Clone)]
pub struct Member {
    /// The provider.
    pub provider: SharedProvider,
    /// Its prefix (`""` for none).
    pub prefix: String,
}

/// The merged catalog.
#[derive(Default)]
pub struct Catalog {
    snapshot: RwLock<Arc<Snapshot>>,
}

impl Catalog {
    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replace the snapshot and report what changed.
    pub fn install(&self, next: Snapshot) -> Changes {
        let mut guard = self.snapshot.write().unwrap_or_else(|e| e.into_inner());
        let changes = diff(&guard, &next);
        *guard = Arc::new(next);
        changes
    }
}

/// Merge offers into a snapshot, in the given order (earlier members own contested names).
pub fn merge(offers: &[(Member, Offer)]) -> Result<Snapshot, MergeError> {
    let mut snapshot = Snapshot::default();
    for (member, offer) in offers {
        let owner = member.provider.name().to_string();
        for tool in &offer.tools {
            let name = naming::exposed(&member.prefix, &tool.name);
            if !naming::is_valid_tool_name(&name) {
                return Err(BadName {
                    kind: "tool",
                    name,
                    owner,
                }
                .into());
            }
            if let Some(existing) = snapshot.tools.get(&name) {
                return Err(collision("tool", name, existing.provider.name(), &owner));
            }
            let mut exposed = tool.clone();
            exposed.name = name.clone().into();
            snapshot.tools.insert(
                name,
                Arc::new(ToolRoute {
                    provider: member.provider.clone(),
                    local: tool.name.to_string(),
                    tool: exposed,
                }),
            );
        }
        for prompt in &offer.prompts {
            let name = naming::exposed(&member.prefix, &prompt.name);
            if !naming::is_valid_tool_name(&name) {
                return Err(BadName {
                    kind: "prompt",
                    name,
                    owner,
                }
                .into());
            }
            if let Some(existing) = snapshot.prompts.get(&name) {
                return Err(collision("prompt", name, existing.provider.name(), &owner));
            }
            let mut exposed = prompt.clone();
            exposed.name = name.clone();
            snapshot.prompts.insert(
                name,
                PromptRoute {
                    provider: member.provider.clone(),
                    local: prompt.name.clone(),
                    prompt: exposed,
                },
            );
        }
        for resource in &offer.resources {
            let uri = resource.uri.clone();
            if let Some(existing) = snapshot.resources.get(&uri) {
                let kept_by = existing.provider.name().to_string();
                snapshot
                    .withheld
                    .push(withheld("resource", uri, kept_by, &owner));
                continue;
            }
            snapshot.resources.insert(
                uri,
                ResourceRoute {
                    provider: member.provider.clone(),
                    resource: resource.clone(),
                },
            );
        }
        for template in &offer.resource_templates {
            if let Some(existing) = snapshot
                .templates
                .iter()
                .find(|t| t.template.uri_template == template.uri_template)
            {
                let kept_by = existing.provider.name().to_string();
                let uri = template.uri_template.clone();
                snapshot
                    .withheld
                    .push(withheld("resource template", uri, kept_by, &owner));
                continue;
            }
            snapshot.templates.push(TemplateRoute {
                provider: member.provider.clone(),
                template: template.clone(),
                matcher: UriTemplate::parse(&template.uri_template),
            });
        }
    }
    snapshot
        .templates
        .sort_by_key(|t| std::cmp::Reverse(t.matcher.specificity()));
    Ok(snapshot)
}

fn withheld(kind: &str, uri: String, kept_by: String, from: &str) -> Withheld {
    Withheld {
        kind: kind.to_string(),
        uri,
        kept_by,
        from: from.to_string(),
    }
}

fn collision(kind: &'static str, name: String, first: &str, second: &str) -> MergeError {
    Collision {
        kind,
        name,
        first: first.to_string(),
        second: second.to_string(),
    }
    .into()
}

fn diff(old: &Snapshot, new: &Snapshot) -> Changes {
    let tools = old.tools.len() != new.tools.len()
        || old
            .tools
            .iter()
            .zip(new.tools.iter())
            .any(|((a, ra), (b, rb))| a != b || ra.tool != rb.tool);
    let prompts = old.prompts.len() != new.prompts.len()
        || old
            .prompts
            .iter()
            .zip(new.prompts.iter())
            .any(|((a, ra), (b, rb))| a != b || ra.prompt != rb.prompt);
    let resources = old.resources.len() != new.resources.len()
        || old.templates.len() != new.templates.len()
        || old
            .resources
            .iter()
            .zip(new.resources.iter())
            .any(|((a, ra), (b, rb))| a != b || ra.resource != rb.resource)
        || old
            .templates
            .iter()
            .zip(new.templates.iter())
            .any(|(a, b)| a.template != b.template);
    Changes {
        tools,
        resources,
        prompts,
    }
}
