//! Where an operation's outcome goes: a one-shot slot shared by the runner that answers
//! and the caller that waits.
//!
//! Besides the answer, a runner can *nudge* a waiting caller: wake it without answering,
//! so that it runs the actor itself. That is how a runner hands over after a bounded
//! batch (see `combine.rs`). A nudge is never lost: a caller that is not parked yet finds
//! the nudge flag when it comes to park, and runs instead.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;

/// The sending half: answers once, or is dropped (the caller then learns it was
/// abandoned).
pub(crate) struct Reply<T> {
    /// `None` once answered, so dropping an answered reply takes no lock.
    slot: Option<Arc<Mutex<State<T>>>>,
}

/// The receiving half, polled by the caller.
pub(crate) struct Outcome<T> {
    slot: Arc<Mutex<State<T>>>,
    /// Set once the answer (or its absence) was taken, so dropping takes no lock.
    settled: AtomicBool,
}

enum State<T> {
    /// No answer yet. `nudged`: a runner asked this caller to take over.
    Waiting {
        waker: Option<Waker>,
        nudged: bool,
    },
    Ready(T),
    /// The answer was taken.
    Taken,
    /// The reply was dropped without an answer.
    Abandoned,
    /// The caller went away before the answer came.
    Cancelled,
}

/// The reply was dropped without an answer: the table stopped or failed on the way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Abandoned;

/// What a poll of an [`Outcome`] found.
pub(crate) enum Polled<T> {
    /// The answer, or why none will come.
    Done(Result<T, Abandoned>),
    /// A runner handed over: run the actors, then poll again.
    Nudged,
    /// Nothing yet; the waker is registered.
    Pending,
}

/// A connected pair.
pub(crate) fn channel<T>() -> (Reply<T>, Outcome<T>) {
    let slot = Arc::new(Mutex::new(State::Waiting {
        waker: None,
        nudged: false,
    }));
    (
        Reply {
            slot: Some(Arc::clone(&slot)),
        },
        Outcome {
            slot,
            settled: AtomicBool::new(false),
        },
    )
}

impl<T> Reply<T> {
    /// Answers; hands the value back when the caller has gone.
    pub(crate) fn send(mut self, value: T) -> Result<(), T> {
        let Some(slot) = self.slot.take() else {
            return Err(value);
        };
        let mut state = slot.lock();
        match &mut *state {
            State::Waiting { waker, .. } => {
                let waker = waker.take();
                *state = State::Ready(value);
                drop(state);
                if let Some(waker) = waker {
                    waker.wake();
                }
                Ok(())
            }
            _ => Err(value),
        }
    }

    /// Asks the waiting caller to run the actors itself. Returns whether a caller is
    /// there to do it.
    pub(crate) fn nudge(&self) -> bool {
        let Some(slot) = &self.slot else {
            return false;
        };
        let mut state = slot.lock();
        match &mut *state {
            State::Waiting { waker, nudged } => {
                *nudged = true;
                if let Some(waker) = waker.take() {
                    drop(state);
                    waker.wake();
                }
                true
            }
            _ => false,
        }
    }
}

impl<T> Drop for Reply<T> {
    fn drop(&mut self) {
        let Some(slot) = self.slot.take() else {
            return;
        };
        let mut state = slot.lock();
        if let State::Waiting { waker, .. } = &mut *state {
            let waker = waker.take();
            *state = State::Abandoned;
            drop(state);
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }
}

impl<T> Outcome<T> {
    /// The answer if it has come, without registering anything.
    pub(crate) fn try_take(&self) -> Option<Result<T, Abandoned>> {
        let mut state = self.slot.lock();
        let answer = match std::mem::replace(&mut *state, State::Taken) {
            State::Ready(value) => Ok(value),
            State::Abandoned | State::Taken | State::Cancelled => Err(Abandoned),
            waiting @ State::Waiting { .. } => {
                *state = waiting;
                return None;
            }
        };
        self.settled.store(true, Ordering::Relaxed);
        Some(answer)
    }

    /// Takes the answer, or reports a nudge, or registers `cx`'s waker.
    pub(crate) fn poll(&self, cx: &mut Context<'_>) -> Polled<T> {
        let mut state = self.slot.lock();
        match &mut *state {
            State::Waiting { waker, nudged } => {
                if std::mem::take(nudged) {
                    return Polled::Nudged;
                }
                match waker {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
                Polled::Pending
            }
            _ => {
                self.settled.store(true, Ordering::Relaxed);
                match std::mem::replace(&mut *state, State::Taken) {
                    State::Ready(value) => Polled::Done(Ok(value)),
                    _ => Polled::Done(Err(Abandoned)),
                }
            }
        }
    }

    /// Whether no answer has come yet.
    pub(crate) fn is_waiting(&self) -> bool {
        matches!(&*self.slot.lock(), State::Waiting { .. })
    }

    /// Waits for the answer; `help` runs the actors whenever a runner hands over.
    pub(crate) fn wait(&self, help: impl Fn()) -> impl Future<Output = Result<T, Abandoned>> {
        std::future::poll_fn(move |cx| {
            loop {
                match self.poll(cx) {
                    Polled::Done(outcome) => return Poll::Ready(outcome),
                    Polled::Nudged => help(),
                    Polled::Pending => return Poll::Pending,
                }
            }
        })
    }
}

impl<T> Drop for Outcome<T> {
    fn drop(&mut self) {
        if *self.settled.get_mut() {
            return;
        }
        let mut state = self.slot.lock();
        if let State::Waiting { .. } = &*state {
            *state = State::Cancelled;
        } else {
            // An answer nobody took is dropped here (outside the lock), so what it owns
            // (unpublished row versions) is released.
            let left = std::mem::replace(&mut *state, State::Taken);
            drop(state);
            drop(left);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn context() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        (Arc::clone(&count), Waker::from(count))
    }

    #[test]
    fn an_answer_wakes_the_waiting_caller_once() {
        let (reply, outcome) = channel::<u32>();
        let (count, waker) = context();
        let mut cx = Context::from_waker(&waker);
        assert!(matches!(outcome.poll(&mut cx), Polled::Pending));
        assert_eq!(reply.send(7), Ok(()));
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(matches!(outcome.poll(&mut cx), Polled::Done(Ok(7))));
    }

    #[test]
    fn a_nudge_before_parking_is_not_lost() {
        let (reply, outcome) = channel::<u32>();
        assert!(reply.nudge(), "the caller is there");
        let (count, waker) = context();
        let mut cx = Context::from_waker(&waker);
        assert!(matches!(outcome.poll(&mut cx), Polled::Nudged));
        assert!(matches!(outcome.poll(&mut cx), Polled::Pending));
        assert!(reply.nudge());
        assert_eq!(
            count.0.load(Ordering::SeqCst),
            1,
            "a parked caller is woken"
        );
    }

    #[test]
    fn a_dropped_reply_abandons_and_a_gone_caller_refuses() {
        let (reply, outcome) = channel::<u32>();
        drop(reply);
        assert_eq!(outcome.try_take(), Some(Err(Abandoned)));

        let (reply, outcome) = channel::<u32>();
        drop(outcome);
        assert!(!reply.nudge(), "nobody to hand over to");
        assert_eq!(reply.send(3), Err(3), "the value comes back");
    }

    #[test]
    fn an_untaken_answer_is_dropped_with_the_outcome() {
        let value = Arc::new(());
        let (reply, outcome) = channel::<Arc<()>>();
        assert!(reply.send(Arc::clone(&value)).is_ok());
        assert_eq!(Arc::strong_count(&value), 2);
        drop(outcome);
        assert_eq!(
            Arc::strong_count(&value),
            1,
            "what the answer owned is released"
        );
    }
}
