//! The 2026-07-28 way of asking: a stateless request may not be sent an elicitation, so the
//! gate answers with an `input_required` result carrying the question and a sealed request
//! state ([`super::seal`]); the client retries with the answer and the state, which must
//! open, match this call, asker and policy, and not have been spent.

use rmcp::model::{ElicitRequest, ElicitResult, InputRequest, InputRequests, InputRequiredResult};

use super::question::{self, Answer};
use super::seal::{self, Bound};
use super::{Call, Clearance, Gate, inbox};

/// The key of the approval question in an input-required round trip.
const INPUT_KEY: &str = "switchboard/approval";

impl Gate {
    /// The 2026-07-28 way: answer with an input-required result carrying the form and a
    /// sealed state ([`seal`]); the retry carries the answer and the state, which must open,
    /// match this call and asker, and not have been spent.
    pub(super) async fn round_trip(
        &self,
        call: &Call<'_>,
        hash: &str,
        asker: &str,
        text: &str,
    ) -> Result<Answer, Clearance> {
        let sealer = match &self.sealer {
            Ok(sealer) => sealer,
            Err(e) => return Ok(Answer::Deny(format!("approvals cannot be sealed: {e}"))),
        };
        let expected = Bound {
            tool: call.tool.to_string(),
            definition: hash.to_string(),
            args: call.args_sha256.to_string(),
            policy: self.policy.version().to_string(),
            asker: asker.to_string(),
            nonce: inbox::new_id() + &inbox::new_id(),
            expires: crate::state::stamp(
                chrono::Utc::now()
                    + chrono::Duration::from_std(self.config.timeout.get()).unwrap_or_default(),
            ),
        };
        if let Some(retry) = call.retry
            && let Some(response) = retry.responses.get(INPUT_KEY)
        {
            let Some(sealed) = retry.state.as_deref() else {
                return Ok(Answer::Deny(
                    "the approval answer came without its request state".into(),
                ));
            };
            let bound = match sealer.open_state(sealed, asker) {
                Ok(bound) => bound,
                Err(e) => {
                    return Ok(Answer::Deny(format!(
                        "the approval state is not valid (expired, altered, or sealed for another client): {e}"
                    )));
                }
            };
            if !bound.same_call(&expected) {
                return Ok(Answer::Deny(
                    "the approval answer belongs to another call (tool, definition, arguments or policy differ)".into(),
                ));
            }
            let spent = self
                .blocking(|s| s.spend_state(&seal::spent_key(sealed), &bound.expires))
                .await;
            return Ok(match spent {
                Ok(true) => match serde_json::from_value::<ElicitResult>(response.clone()) {
                    Ok(result) => question::answer(&result),
                    Err(e) => Answer::Deny(format!("the approval answer is not valid: {e}")),
                },
                Ok(false) => Answer::Deny(
                    "this approval answer was already used; an approval runs one call".into(),
                ),
                Err(e) => Answer::Deny(format!("cannot record the approval's use: {e}")),
            });
        }
        let sealed = match sealer.seal(&expected, self.config.timeout.get()) {
            Ok(sealed) => sealed,
            Err(e) => return Ok(Answer::Deny(e)),
        };
        let mut requests = InputRequests::new();
        requests.insert(
            INPUT_KEY.to_string(),
            InputRequest::Elicitation(ElicitRequest::new(question::form(text))),
        );
        Err(Clearance::NeedInput(InputRequiredResult::new(
            Some(requests),
            Some(sealed),
        )))
    }
}
