//! The deadline layer: a request that outlives its provider's timeout is abandoned with a
//! clear error, and its cancellation token is cancelled so the provider can stop early. The
//! one deadline for every kind of request.

use futures::future::BoxFuture;

use super::{CallResult, Layer, Next, Request};
use crate::provider::ProviderError;

/// Bounds every call by its provider's `call_timeout`.
pub struct Deadline;

impl Layer for Deadline {
    fn handle<'a>(&'a self, mut call: Request, next: Next<'a>) -> BoxFuture<'a, CallResult> {
        Box::pin(async move {
            let timeout = call.provider.call_timeout();
            // A child token: cancelling it on timeout leaves the request's own token alone.
            call.requester = call.requester.with_child_cancellation();
            let token = call.requester.cancellation().clone();
            let cancelled_by_client = call.requester.cancellation().clone();
            // The client's cancellation first: a provider that noticed it and finished before
            // this task ran again still ends a cancelled call (its answer goes nowhere).
            tokio::select! {
                biased;
                () = cancelled_by_client.cancelled() => Err(ProviderError::Cancelled.into()),
                result = tokio::time::timeout(timeout, next.run(call)) => match result {
                    Ok(result) => result,
                    Err(_) => {
                        token.cancel();
                        Err(ProviderError::Timeout(timeout).into())
                    }
                },
            }
        })
    }
}
