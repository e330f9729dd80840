//! A tool's definition hash: what a grant is bound to, and what tells switchboard that a
//! plugin or server changed a tool since the person approved it.

use rmcp::model::Tool;
use serde_json::Value;

use crate::catalog::Snapshot;
use crate::state::State;
use crate::state::audit::digest;

/// Record every tool's definition hash; log the tools whose definition changed since it was
/// first seen (their "always" grants stop applying, since grants are bound to the hash).
/// Reads and queues writes: run it on a blocking thread.
pub fn observe(state: &State, snapshot: &Snapshot) {
    let known: std::collections::HashMap<String, String> = match state.definitions() {
        Ok(rows) => rows.into_iter().map(|r| (r.tool, r.hash)).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the recorded tool definitions");
            return;
        }
    };
    for (name, route) in &snapshot.tools {
        let current = hash(&route.tool);
        if let Some(previous) = known.get(name)
            && previous != &current
        {
            tracing::warn!(
                tool = %name,
                provider = route.provider.name(),
                "the tool's definition changed since switchboard first saw it; approvals remembered for it no longer apply"
            );
        }
        state.observe_definition(name, route.provider.name(), &current);
    }
}

/// Hex SHA-256 over the tool's name, description, schemas and annotations, with object keys
/// sorted so the same definition always hashes alike.
pub fn hash(tool: &Tool) -> String {
    let value = serde_json::json!({
        "name": tool.name,
        "description": tool.description,
        "inputSchema": Value::Object((*tool.input_schema).clone()),
        "outputSchema": tool.output_schema.as_ref().map(|s| Value::Object((**s).clone())),
        "annotations": tool.annotations,
    });
    let mut canonical = String::new();
    write_canonical(&value, &mut canonical);
    digest(&canonical)
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (n, key) in keys.into_iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tool(description: &str, schema: Value) -> Tool {
        Tool::new(
            "t",
            description.to_string(),
            schema.as_object().cloned().unwrap(),
        )
    }

    #[test]
    fn same_definition_same_hash_any_key_order() {
        let a = tool(
            "d",
            json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}}),
        );
        let b = tool(
            "d",
            json!({"properties": {"b": {"type": "integer"}, "a": {"type": "string"}}, "type": "object"}),
        );
        assert_eq!(hash(&a), hash(&b));
        let c = tool("different", json!({"type": "object"}));
        assert_ne!(hash(&a), hash(&c));
    }
}
