//! Injected failures: the bad days of a real API (slowness, 5xx, surprise 401s, dropped
//! connections, a flaky token endpoint) on demand, so client retry paths can be tested.

use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// The faults to inject. Counters (`*_next`) count down as they fire.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Added to every /v3 and token response.
    pub latency_ms: u64,
    /// Probability (0..=1) that a /v3 call answers a random 500 or 503.
    pub error_rate: f64,
    /// The next N /v3 calls answer 503.
    pub fail_next: u32,
    /// The next N /v3 calls answer 401 unauthorized.
    pub unauthorized_next: u32,
    /// The next N /v3 calls: the connection is dropped without a complete response.
    pub drop_next: u32,
    /// The next N token-endpoint calls answer 503 (transient).
    pub token_fail_next: u32,
    /// The next N /v3 calls answer 403 (a missing privilege or a deactivated app).
    pub forbidden_next: u32,
    /// The next N /v3 calls answer 409 (simultaneous changes to the same contact).
    pub conflict_next: u32,
    /// The next N /v3 calls answer 202 with `{}`: "accepted, but not fully completed; retry", as
    /// the published API allows for `GET /contacts` (a client must not read it as the answer).
    pub accepted_next: u32,
}

/// What a fault does to one /v3 call, decided on arrival.
#[derive(Debug, PartialEq, Eq)]
pub enum ApiFault {
    /// Abort the connection without an HTTP answer.
    Drop,
    /// Answer 401 as if the token were bad.
    Unauthorized,
    /// Answer this 5xx.
    ServerError(u16),
    /// Answer 403.
    Forbidden,
    /// Answer 409.
    Conflict,
    /// Answer 202 with an empty object.
    Accepted,
}

/// What a fault does to one token-endpoint call.
pub struct TokenFault {
    pub latency: Duration,
    pub unavailable: bool,
}

pub struct FaultState {
    faults: Faults,
}

impl FaultState {
    pub fn new(faults: Faults) -> Self {
        Self { faults }
    }

    pub fn set(&mut self, faults: Faults) {
        self.faults = faults;
    }

    pub fn current(&self) -> Faults {
        self.faults.clone()
    }

    /// The latency to add and the failure (if any) for the next /v3 call, in the documented
    /// order: drop, then latency, unauthorized, fail, error rate. A dropped call gets no latency:
    /// there is no response to delay.
    pub fn next_api_call(&mut self, rng: &mut impl Rng) -> (Duration, Option<ApiFault>) {
        if take(&mut self.faults.drop_next) {
            return (Duration::ZERO, Some(ApiFault::Drop));
        }
        let latency = Duration::from_millis(self.faults.latency_ms);
        let fault = if take(&mut self.faults.unauthorized_next) {
            Some(ApiFault::Unauthorized)
        } else if take(&mut self.faults.forbidden_next) {
            Some(ApiFault::Forbidden)
        } else if take(&mut self.faults.conflict_next) {
            Some(ApiFault::Conflict)
        } else if take(&mut self.faults.accepted_next) {
            Some(ApiFault::Accepted)
        } else if take(&mut self.faults.fail_next) {
            Some(ApiFault::ServerError(503))
        } else if rng.gen_bool(probability(self.faults.error_rate)) {
            Some(ApiFault::ServerError(if rng.gen_bool(0.5) {
                500
            } else {
                503
            }))
        } else {
            None
        };
        (latency, fault)
    }

    pub fn next_token_call(&mut self) -> TokenFault {
        TokenFault {
            latency: Duration::from_millis(self.faults.latency_ms),
            unavailable: take(&mut self.faults.token_fail_next),
        }
    }
}

/// Count a `*_next` counter down; true if it fired.
fn take(counter: &mut u32) -> bool {
    if *counter == 0 {
        return false;
    }
    *counter -= 1;
    true
}

/// `gen_bool` panics outside 0..=1; a bad rate from a test is clamped, NaN means never.
fn probability(rate: f64) -> f64 {
    if rate.is_nan() {
        0.0
    } else {
        rate.clamp(0.0, 1.0)
    }
}

/// A response whose body fails before its first byte. Hyper has only buffered the status line
/// when the body errors, so it closes the connection without sending it: the client sees a
/// transport error (connection closed before the message completed), never an HTTP status.
pub fn dropped_connection() -> Response {
    let failing = futures_util::stream::once(async {
        Err::<bytes::Bytes, _>(std::io::Error::other("sandbox fault: drop the connection"))
    });
    Response::new(Body::from_stream(failing))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn counters_fire_in_order_and_count_down() {
        let mut state = FaultState::new(Faults {
            drop_next: 1,
            unauthorized_next: 1,
            fail_next: 1,
            latency_ms: 5,
            ..Faults::default()
        });
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(
            state.next_api_call(&mut rng),
            (Duration::ZERO, Some(ApiFault::Drop))
        );
        let latency = Duration::from_millis(5);
        assert_eq!(
            state.next_api_call(&mut rng),
            (latency, Some(ApiFault::Unauthorized))
        );
        assert_eq!(
            state.next_api_call(&mut rng),
            (latency, Some(ApiFault::ServerError(503)))
        );
        assert_eq!(state.next_api_call(&mut rng), (latency, None));
    }

    #[test]
    fn an_error_rate_of_one_always_fails_with_500_or_503() {
        let mut state = FaultState::new(Faults {
            error_rate: 1.0,
            ..Faults::default()
        });
        let mut rng = StdRng::seed_from_u64(7);
        let statuses: Vec<_> = (0..50)
            .map(|_| match state.next_api_call(&mut rng).1 {
                Some(ApiFault::ServerError(status)) => status,
                other => panic!("expected a server error, got {other:?}"),
            })
            .collect();
        assert!(statuses.contains(&500) && statuses.contains(&503));
    }

    #[test]
    fn an_out_of_range_error_rate_is_clamped_instead_of_panicking() {
        let mut rng = StdRng::seed_from_u64(3);
        for rate in [-1.0, 2.0, f64::NAN, f64::INFINITY] {
            let mut state = FaultState::new(Faults {
                error_rate: rate,
                ..Faults::default()
            });
            state.next_api_call(&mut rng);
        }
    }
}
