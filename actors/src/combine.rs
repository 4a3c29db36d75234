//! The execution model of the table's shards and its commit point: an actor that runs
//! where its messages come from.
//!
//! An actor is private state, an inbox, and messages handled one batch at a time, in
//! order. It has no task or thread of its own. A sender puts its message in the inbox
//! and then tries to become the actor's *runner*: if the actor is idle, the sender runs
//! it at once, on its own thread, handling its own message and whatever else is queued;
//! if another thread is running it, the message joins that runner's next batch and the
//! sender goes on (it waits for its answer through a [`Reply`](crate::reply::Reply)).
//! So an uncontended message costs a function call and two uncontended locks, and
//! contended messages are combined into batches that one runner handles. A sender whose
//! work must stay on its own thread (the vacuum's) uses [`Combiner::submit_and_run`]: it
//! waits for the runner to finish and runs the actor itself.
//!
//! Rules, each kept here:
//! * Handlers never await: a runner holds the actor's state lock only while it computes.
//! * A runner hands over after [`BATCH`] messages: it nudges the caller of a message
//!   still queued (see `reply.rs`), which runs the actor when it is next polled, so no
//!   caller pays for others without limit. If every queued caller has gone, the runner
//!   carries on itself.
//! * Nothing is stranded: after releasing the state, a runner looks at the inbox again,
//!   under the inbox lock, so a message queued while it ran is either seen by it or its
//!   sender finds the actor idle.
//! * A panic inside a handler fails the table: the failure is recorded (sticky), the
//!   inbox is closed, and every queued message is dropped, so its caller learns of the
//!   failure instead of waiting.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

use crate::WorkTableError;

/// Messages a runner handles before it hands over.
pub(crate) const BATCH: usize = 1024;

/// An actor's behaviour.
pub(crate) trait Handler: Send {
    /// One message.
    type Msg: Send;
    /// The actor's name, for errors and tracing.
    const NAME: &'static str;
    /// Handles `batch` in order, leaving it empty.
    fn handle(&mut self, batch: &mut VecDeque<Self::Msg>);
    /// Asks a caller waiting for `msg` to run the actor; whether one was there.
    fn nudge(msg: &Self::Msg) -> bool;
    /// Drops whatever work the state holds between messages, after a panic: its callers
    /// then learn that the table failed instead of waiting.
    fn abandon(&mut self) {}
}

/// Whether a table has failed; the first failure sticks.
#[derive(Default)]
pub(crate) struct Health {
    failure: OnceLock<WorkTableError>,
}

impl Health {
    /// The failure, if the table has failed.
    pub(crate) fn failure(&self) -> Option<&WorkTableError> {
        self.failure.get()
    }

    /// Records `error` unless a failure is recorded already.
    pub(crate) fn fail(&self, error: WorkTableError) {
        let _ = self.failure.set(error);
    }
}

struct Inbox<M> {
    queue: VecDeque<M>,
    closed: bool,
}

struct Running<H: Handler> {
    handler: H,
    batch: VecDeque<H::Msg>,
    /// Set when a handler panicked: the state may be broken and is never run again.
    poisoned: bool,
}

/// An actor run by its senders; see the module docs.
pub(crate) struct Combiner<H: Handler> {
    state: Mutex<Running<H>>,
    inbox: Mutex<Inbox<H::Msg>>,
    health: Arc<Health>,
}

/// How a run ended.
enum Ran {
    /// The inbox was empty.
    Idle,
    /// [`BATCH`] messages were handled and more may be queued.
    Exhausted,
}

impl<H: Handler> Combiner<H> {
    /// An idle actor with state `handler`; a panic fails `health`.
    pub(crate) fn new(handler: H, health: Arc<Health>) -> Self {
        Combiner {
            state: Mutex::new(Running {
                handler,
                batch: VecDeque::new(),
                poisoned: false,
            }),
            inbox: Mutex::new(Inbox {
                queue: VecDeque::new(),
                closed: false,
            }),
            health,
        }
    }

    /// Runs the actor on this thread with `msg` if it is idle, or queues `msg` for the
    /// thread that runs it. Hands `msg` back when the actor has stopped taking messages.
    pub(crate) fn submit(&self, msg: H::Msg) -> Result<(), H::Msg> {
        let Some(mut running) = self.state.try_lock() else {
            self.enqueue(msg)?;
            self.drive();
            return Ok(());
        };
        {
            let mut inbox = self.inbox.lock();
            if inbox.closed {
                return Err(msg);
            }
            if !inbox.queue.is_empty() {
                // Others came first: `msg` takes its turn behind them.
                inbox.queue.push_back(msg);
                drop(inbox);
                let ran = self.run(&mut running, BATCH);
                drop(running);
                if !self.after_run(ran) {
                    self.drive();
                }
                return Ok(());
            }
        }
        // Idle and nothing queued: handle `msg` straight away.
        running.batch.push_back(msg);
        self.handle_batch(&mut running);
        drop(running);
        if !self.after_run(Ran::Idle) {
            self.drive();
        }
        Ok(())
    }

    fn enqueue(&self, msg: H::Msg) -> Result<(), H::Msg> {
        let mut inbox = self.inbox.lock();
        if inbox.closed {
            return Err(msg);
        }
        inbox.queue.push_back(msg);
        Ok(())
    }

    /// Runs the actor on this thread if it is idle and has messages; returns at once if
    /// another thread runs it.
    pub(crate) fn drive(&self) {
        loop {
            let Some(mut running) = self.state.try_lock() else {
                return;
            };
            let ran = self.run(&mut running, BATCH);
            drop(running);
            if self.after_run(ran) {
                return;
            }
        }
    }

    /// After a run, with the state released: whether the actor can be left as it is. It
    /// can when nothing is queued, or when the run used up its batch and a queued
    /// caller was nudged to take over; otherwise the caller must drive it again, since
    /// whoever queued while it ran may have found it busy and left.
    fn after_run(&self, ran: Ran) -> bool {
        let inbox = self.inbox.lock();
        if inbox.queue.is_empty() {
            return true;
        }
        matches!(ran, Ran::Exhausted) && inbox.queue.iter().any(H::nudge)
    }

    /// Waits until no other thread runs the actor, then handles everything queued.
    /// Only for callers that hold no lock a runner of this actor could want.
    pub(crate) fn run_blocking(&self) {
        let mut running = self.state.lock();
        while let Ran::Exhausted = self.run(&mut running, usize::MAX) {}
        drop(running);
        // A message queued after the last look at the inbox found the state locked and
        // was left to this runner.
        if !self.after_run(Ran::Idle) {
            self.drive();
        }
    }

    /// Handles `msg` on this thread, after whatever was queued before it: waits until no
    /// other thread runs the actor, then runs it until nothing is queued. For a sender
    /// whose work must not land on a writer's thread (the vacuum's moves); like
    /// [`Self::run_blocking`], only for callers that hold no lock a runner could want.
    /// Hands `msg` back when the actor has stopped taking messages.
    pub(crate) fn submit_and_run(&self, msg: H::Msg) -> Result<(), H::Msg> {
        let mut running = self.state.lock();
        self.enqueue(msg)?;
        while let Ran::Exhausted = self.run(&mut running, usize::MAX) {}
        drop(running);
        if !self.after_run(Ran::Idle) {
            self.drive();
        }
        Ok(())
    }

    /// Stops taking messages; those queued are still handled.
    pub(crate) fn close(&self) {
        self.inbox.lock().closed = true;
    }

    /// Runs `f` on the actor's state, waiting for any runner to finish first.
    ///
    /// A sender that finds the state locked queues its message and leaves it to the
    /// holder, as it would to a runner; so afterwards, like a runner, this hands what
    /// was queued meanwhile to a waiting caller, or runs it here if none is waiting.
    pub(crate) fn with_state<T>(&self, f: impl FnOnce(&mut H) -> T) -> T {
        let answer = f(&mut self.state.lock().handler);
        if !self.after_run(Ran::Exhausted) {
            self.drive();
        }
        answer
    }

    /// Handles queued messages, at most `limit` (rounded up to a whole batch).
    fn run(&self, running: &mut Running<H>, limit: usize) -> Ran {
        let mut handled = 0;
        while !running.poisoned {
            {
                let mut inbox = self.inbox.lock();
                if inbox.queue.is_empty() {
                    return Ran::Idle;
                }
                let take = inbox.queue.len().min(BATCH);
                if take == inbox.queue.len() {
                    std::mem::swap(&mut inbox.queue, &mut running.batch);
                } else {
                    running.batch.extend(inbox.queue.drain(..take));
                }
            }
            handled += running.batch.len();
            if !self.handle_batch(running) {
                return Ran::Idle;
            }
            if handled >= limit {
                return Ran::Exhausted;
            }
        }
        Ran::Idle
    }

    /// Handles what `running.batch` holds; `false` when a handler panicked, which fails
    /// the actor.
    fn handle_batch(&self, running: &mut Running<H>) -> bool {
        let Running { handler, batch, .. } = &mut *running;
        let outcome = catch_unwind(AssertUnwindSafe(|| handler.handle(batch)));
        running.batch.clear();
        let Err(panic) = outcome else {
            return true;
        };
        running.poisoned = true;
        self.fail(panic_message(panic.as_ref()));
        // A second panic here would only lose what is being dropped anyway.
        let _ = catch_unwind(AssertUnwindSafe(|| running.handler.abandon()));
        false
    }

    /// Records the failure, closes the inbox and drops every queued message.
    fn fail(&self, reason: String) {
        tracing::error!(actor = H::NAME, %reason, "a table actor panicked; the table has failed");
        self.health.fail(WorkTableError::ActorFailed {
            actor: H::NAME,
            reason,
        });
        let dropped = {
            let mut inbox = self.inbox.lock();
            inbox.closed = true;
            std::mem::take(&mut inbox.queue)
        };
        drop(dropped);
    }
}

/// The message of a panic payload.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic payload".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::{self, Outcome, Reply};

    /// Adds numbers; each message answers with the sum so far. Panics on 13.
    struct Adder {
        sum: u64,
    }

    impl Handler for Adder {
        type Msg = (u64, Reply<u64>);
        const NAME: &'static str = "adder";
        fn handle(&mut self, batch: &mut VecDeque<Self::Msg>) {
            while let Some((n, reply)) = batch.pop_front() {
                assert_ne!(n, 13, "unlucky");
                self.sum += n;
                let _ = reply.send(self.sum);
            }
        }
        fn nudge(msg: &Self::Msg) -> bool {
            msg.1.nudge()
        }
    }

    fn adder() -> Arc<Combiner<Adder>> {
        Arc::new(Combiner::new(Adder { sum: 0 }, Arc::default()))
    }

    fn send(actor: &Combiner<Adder>, n: u64) -> Outcome<u64> {
        let (reply, outcome) = reply::channel();
        assert!(actor.submit((n, reply)).is_ok());
        outcome
    }

    #[test]
    fn an_idle_actor_runs_on_the_senders_thread() {
        let actor = adder();
        assert_eq!(
            send(&actor, 2).try_take(),
            Some(Ok(2)),
            "answered before submit returned"
        );
        assert_eq!(send(&actor, 3).try_take(), Some(Ok(5)));
    }

    #[test]
    fn many_threads_lose_no_message_and_keep_one_order() {
        let actor = adder();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let actor = Arc::clone(&actor);
                std::thread::spawn(move || {
                    let mut outcomes = Vec::new();
                    for _ in 0..5_000 {
                        outcomes.push(send(&actor, 1));
                    }
                    outcomes
                })
            })
            .collect();
        let mut sums: Vec<u64> = Vec::new();
        for thread in threads {
            for outcome in thread.join().expect("sender") {
                // A message queued behind a runner is answered by it; a nudged caller
                // that never comes back is carried by the runner too.
                let answer = loop {
                    actor.drive();
                    if let Some(answer) = outcome.try_take() {
                        break answer;
                    }
                    std::thread::yield_now();
                };
                sums.push(answer.expect("answered"));
            }
        }
        sums.sort_unstable();
        assert_eq!(
            sums,
            (1..=40_000).collect::<Vec<_>>(),
            "every message once, in one order"
        );
    }

    #[test]
    fn a_panic_fails_the_actor_for_good() {
        let actor = adder();
        assert_eq!(send(&actor, 1).try_take(), Some(Ok(1)));
        let outcome = send(&actor, 13);
        assert_eq!(outcome.try_take(), Some(Err(reply::Abandoned)));
        assert!(matches!(
            actor.health.failure(),
            Some(WorkTableError::ActorFailed { actor: "adder", .. })
        ));
        let (reply, _outcome) = reply::channel();
        assert!(
            actor.submit((1, reply)).is_err(),
            "a failed actor takes nothing"
        );
    }

    /// A message sent while `with_state` holds the state is not stranded: its caller is
    /// asked to run the actor (or it is run) once `with_state` lets go.
    #[test]
    fn a_message_sent_during_with_state_is_handed_over_after_it() {
        let actor = adder();
        let (inside, entered) = std::sync::mpsc::channel();
        let (sent, wait_sent) = std::sync::mpsc::channel();
        let holder = {
            let actor = Arc::clone(&actor);
            std::thread::spawn(move || {
                actor.with_state(|adder| {
                    inside.send(()).expect("the test waits");
                    wait_sent.recv().expect("the test sends");
                    adder.sum
                })
            })
        };
        entered.recv().expect("with_state runs");
        let outcome = send(&actor, 5);
        assert!(outcome.is_waiting(), "queued behind the held state");
        sent.send(()).expect("the holder waits");
        assert_eq!(holder.join().expect("holder"), 0);
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        match outcome.poll(&mut cx) {
            reply::Polled::Done(answer) => assert_eq!(answer, Ok(5)),
            reply::Polled::Nudged => {
                actor.drive();
                assert_eq!(outcome.try_take(), Some(Ok(5)));
            }
            reply::Polled::Pending => panic!("the message was left in the inbox with no runner"),
        }
    }

    /// Records the thread that handled each message; message 0 waits at a gate.
    struct Recorder {
        handled_on: Vec<(u64, std::thread::ThreadId)>,
        entered: std::sync::mpsc::Sender<()>,
        gate: std::sync::mpsc::Receiver<()>,
    }

    impl Handler for Recorder {
        type Msg = (u64, Reply<u64>);
        const NAME: &'static str = "recorder";
        fn handle(&mut self, batch: &mut VecDeque<Self::Msg>) {
            while let Some((n, reply)) = batch.pop_front() {
                if n == 0 {
                    self.entered.send(()).expect("the test waits");
                    self.gate.recv().expect("the test opens the gate");
                }
                self.handled_on.push((n, std::thread::current().id()));
                let _ = reply.send(n);
            }
        }
        fn nudge(msg: &Self::Msg) -> bool {
            msg.1.nudge()
        }
    }

    /// A message sent with `submit_and_run` while another thread runs the actor is
    /// handled by its sender, not left to the runner (the vacuum's moves must not land
    /// on a writer's thread).
    #[test]
    fn submit_and_run_handles_the_message_on_the_senders_thread() {
        let (entered, wait_entered) = std::sync::mpsc::channel();
        let (open, gate) = std::sync::mpsc::channel();
        let actor = Arc::new(Combiner::new(
            Recorder {
                handled_on: Vec::new(),
                entered,
                gate,
            },
            Arc::default(),
        ));
        let runner = {
            let actor = Arc::clone(&actor);
            std::thread::spawn(move || {
                let (reply, outcome) = reply::channel();
                assert!(actor.submit((0, reply)).is_ok());
                outcome.try_take()
            })
        };
        wait_entered.recv().expect("the runner handles message 0");
        let sender = {
            let actor = Arc::clone(&actor);
            std::thread::spawn(move || {
                let (reply, outcome) = reply::channel();
                assert!(actor.submit_and_run((7, reply)).is_ok());
                (std::thread::current().id(), outcome.try_take())
            })
        };
        // However long the runner keeps the actor, message 7 waits for its sender.
        std::thread::sleep(std::time::Duration::from_millis(20));
        open.send(()).expect("the runner waits at the gate");
        let runner_id = runner.thread().id();
        assert_eq!(runner.join().expect("runner"), Some(Ok(0)));
        let (sender_id, answer) = sender.join().expect("sender");
        assert_eq!(
            answer,
            Some(Ok(7)),
            "answered before submit_and_run returned"
        );
        let handled_on = actor.with_state(|recorder| recorder.handled_on.clone());
        assert_eq!(handled_on, vec![(0, runner_id), (7, sender_id)]);
    }

    #[test]
    fn closing_refuses_new_messages() {
        let actor = adder();
        actor.close();
        let (reply, _outcome) = reply::channel();
        assert!(actor.submit((1, reply)).is_err());
    }
}
