//! The validation layer: arguments are checked against the tool's input schema before any
//! provider sees them, so a plugin can trust its input and a model gets the path of the field
//! it got wrong (`-32602`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use rmcp::model::JsonObject;
use serde_json::Value;

use super::{CallError, CallResult, Layer, Next, Operation, Request};

/// A tool's schema (to notice when it changes) and its compiled validator.
type CacheEntry = (Arc<JsonObject>, Arc<Compiled>);

/// Validates arguments; compiled validators are cached per tool and schema.
#[derive(Default)]
pub struct Validate {
    cache: Mutex<HashMap<String, CacheEntry>>,
}

enum Compiled {
    Schema(jsonschema::Validator),
    /// The tool's own schema does not compile; the provider is trusted to check.
    Unusable,
}

impl Validate {
    fn compiled(&self, tool: &str, schema: &Arc<JsonObject>) -> Arc<Compiled> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((cached_schema, compiled)) = cache.get(tool)
            && Arc::ptr_eq(cached_schema, schema)
        {
            return compiled.clone();
        }
        let compiled = match jsonschema::validator_for(&Value::Object((**schema).clone())) {
            Ok(v) => Compiled::Schema(v),
            Err(e) => {
                tracing::warn!(tool, error = %e, "the tool's input schema does not compile; arguments are not checked");
                Compiled::Unusable
            }
        };
        let compiled = Arc::new(compiled);
        cache.insert(tool.to_string(), (schema.clone(), compiled.clone()));
        compiled
    }
}

/// Check `arguments` against `schema`; the error names the offending field's path.
pub fn check(validator: &jsonschema::Validator, arguments: &Value) -> Result<(), String> {
    let errors: Vec<String> = validator
        .iter_errors(arguments)
        .take(3)
        .map(|e| {
            let path = e.instance_path().to_string();
            let path = if path.is_empty() {
                "(arguments)".to_string()
            } else {
                path
            };
            format!("{path}: {e}")
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

impl Layer for Validate {
    fn handle<'a>(&'a self, mut request: Request, next: Next<'a>) -> BoxFuture<'a, CallResult> {
        let Operation::CallTool {
            route, arguments, ..
        } = &mut request.op
        else {
            // Only tool calls have a declared input schema.
            return next.run(request);
        };
        let compiled = self.compiled(&request.name, &route.tool.input_schema);
        if let Compiled::Schema(validator) = &*compiled {
            // Move the arguments into a JSON value for the validator and back, without a copy.
            let value = Value::Object(std::mem::take(arguments));
            let verdict = check(validator, &value);
            if let Value::Object(map) = value {
                *arguments = map;
            }
            if let Err(message) = verdict {
                return Box::pin(async move {
                    Err(CallError::InvalidArguments {
                        tool: request.name,
                        message,
                    })
                });
            }
        }
        next.run(request)
    }
}
