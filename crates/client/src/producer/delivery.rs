//! Delivery results: one shared outcome per batch, one cheap future per record.
//!
//! A batch completes once, for all its records; each record's [`DeliveryFuture`] holds the
//! batch's outcome and its own index, so enqueueing a record allocates nothing for it.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use super::record::Delivery;
use crate::error::Error;

/// What the broker said about a whole batch.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Acked {
    /// Offset of the batch's first record (-1 when unknown).
    pub base_offset: i64,
    /// Broker append time for LogAppendTime topics, else -1.
    pub log_append_time: i64,
}

/// The shared outcome of one batch.
#[derive(Debug)]
pub(crate) struct BatchOutcome {
    pub topic: Arc<str>,
    pub partition: i32,
    state: Mutex<OutcomeState>,
}

#[derive(Debug, Default)]
struct OutcomeState {
    result: Option<Result<Acked, Arc<Error>>>,
    wakers: Vec<Waker>,
}

impl BatchOutcome {
    pub(crate) fn new(topic: Arc<str>, partition: i32) -> Arc<Self> {
        Arc::new(BatchOutcome {
            topic,
            partition,
            state: Mutex::new(OutcomeState::default()),
        })
    }

    /// Records the outcome (the first one wins) and wakes every waiting record.
    pub(crate) fn complete(&self, result: Result<Acked, Arc<Error>>) {
        let wakers = {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if st.result.is_some() {
                return;
            }
            st.result = Some(result);
            std::mem::take(&mut st.wakers)
        };
        for w in wakers {
            w.wake();
        }
    }
}

/// The delivery result of one record: resolves when its batch is acknowledged or fails.
///
/// Dropping it does not cancel the record; the producer still delivers it.
#[derive(Debug)]
pub struct DeliveryFuture {
    outcome: Arc<BatchOutcome>,
    index: u32,
    timestamp: i64,
    waker_slot: Option<usize>,
}

impl DeliveryFuture {
    pub(crate) fn new(outcome: Arc<BatchOutcome>, index: u32, timestamp: i64) -> Self {
        DeliveryFuture {
            outcome,
            index,
            timestamp,
            waker_slot: None,
        }
    }

    /// The result if the batch has completed, without waiting.
    pub fn try_result(&self) -> Option<Result<Delivery, Error>> {
        let st = self.outcome.state.lock().unwrap_or_else(|e| e.into_inner());
        st.result.as_ref().map(|r| self.delivery(r))
    }

    fn delivery(&self, result: &Result<Acked, Arc<Error>>) -> Result<Delivery, Error> {
        match result {
            Ok(acked) => Ok(Delivery {
                topic: self.outcome.topic.clone(),
                partition: self.outcome.partition,
                offset: if acked.base_offset >= 0 {
                    acked.base_offset + i64::from(self.index)
                } else {
                    -1
                },
                timestamp: if acked.log_append_time >= 0 {
                    acked.log_append_time
                } else {
                    self.timestamp
                },
            }),
            Err(e) => Err(Error::Shared(e.clone())),
        }
    }
}

impl Future for DeliveryFuture {
    type Output = Result<Delivery, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut st = this.outcome.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = &st.result {
            let r = r.clone();
            drop(st);
            return Poll::Ready(this.delivery(&r));
        }
        match this.waker_slot {
            Some(i) if i < st.wakers.len() => {
                if !st.wakers[i].will_wake(cx.waker()) {
                    st.wakers[i] = cx.waker().clone();
                }
            }
            _ => {
                this.waker_slot = Some(st.wakers.len());
                st.wakers.push(cx.waker().clone());
            }
        }
        Poll::Pending
    }
}
