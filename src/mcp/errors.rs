//! How failures become MCP answers.
//!
//! A tool that ran and failed (a panic, a timeout, a plugin error) answers a result with
//! `isError: true`, because that is what the model reads. A request that cannot be routed or
//! whose arguments are wrong answers a JSON-RPC error (`-32602`), because nothing ran.

use rmcp::ErrorData as McpError;
use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock, ResultType};

use crate::pipeline::{CallError, CallResult, Reply};
use crate::provider::ProviderError;

/// No such tool or prompt.
pub fn unknown(kind: &str, name: &str) -> McpError {
    McpError::invalid_params(
        format!("unknown {kind} {name:?}; {kind}s/list shows the available {kind}s"),
        None,
    )
}

/// A failed resource read, prompt or completion: nothing here answers with `isError`, so
/// every failure is a JSON-RPC error.
pub fn request_error(target: &str, error: CallError) -> McpError {
    match error {
        CallError::Provider(ProviderError::NotFound(message)) => {
            McpError::resource_not_found(message, None)
        }
        CallError::Provider(ProviderError::InvalidInput(message)) => {
            McpError::invalid_params(message, None)
        }
        CallError::Refused(message) => McpError::invalid_request(message, None),
        CallError::Internal(message) => McpError::internal_error(message, None),
        CallError::InvalidArguments { .. } => McpError::invalid_params(error.to_string(), None),
        CallError::InputRequired(_) => McpError::internal_error(
            format!("{target}: an input-required answer where none is expected"),
            None,
        ),
        CallError::Provider(other) => McpError::internal_error(format!("{target}: {other}"), None),
    }
}

/// A reply of the wrong kind for the request: a bug, said as one.
pub fn mismatched(target: &str) -> McpError {
    McpError::internal_error(
        format!("{target}: switchboard answered with the wrong kind of result (a bug)"),
        None,
    )
}

/// The answer to a tool call.
pub fn tool_response(tool: &str, result: CallResult) -> Result<CallToolResponse, McpError> {
    match result {
        Ok(Reply::Tool(mut result)) => {
            // Results decoded from a plugin or server lack the 2026-07-28 `resultType`; rmcp
            // strips it for older peers but never adds it.
            result.result_type.get_or_insert(ResultType::COMPLETE);
            Ok(result.into())
        }
        Ok(_) => Err(mismatched(tool)),
        Err(CallError::Refused(message)) => Ok(tool_error(message)),
        Err(CallError::Internal(message)) => Err(McpError::internal_error(message, None)),
        Err(e @ CallError::InvalidArguments { .. }) => {
            Err(McpError::invalid_params(e.to_string(), None))
        }
        Err(CallError::Provider(ProviderError::InvalidInput(message))) => {
            Err(McpError::invalid_params(
                format!("invalid arguments for tool {tool}: {message}"),
                None,
            ))
        }
        Err(CallError::Provider(ProviderError::NotFound(message))) => {
            Ok(tool_error(format!("{tool}: {message}")))
        }
        Err(CallError::Provider(error)) => Ok(tool_error(format!("{tool} failed: {error}"))),
        Err(CallError::InputRequired(input)) => Ok(CallToolResponse::InputRequired(*input)),
    }
}

fn tool_error(text: String) -> CallToolResponse {
    CallToolResult::error(vec![ContentBlock::text(text)]).into()
}
