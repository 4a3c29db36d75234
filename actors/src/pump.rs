//! The loop shared by the table's actors: work arrives on an unbounded tokio channel
//! (outside the kameo mailbox, so a queued write is never lost to an actor restart and a
//! wake-up carries a whole batch), and control signals arrive on the mailbox.
//!
//! Work is preferred over signals. A stop signal is obeyed only after every queued item
//! has been handled; items sent after that find the channel closed (or are dropped with
//! it), so their callers get an error instead of waiting forever.

use kameo::Actor;
use kameo::error::Infallible;
use kameo::mailbox::{MailboxReceiver, Signal};
use tokio::sync::mpsc::UnboundedReceiver;

/// Most items handled per wake-up.
const BATCH: usize = 1024;

/// An actor fed by a work channel.
pub(crate) trait Pump: Actor<Error = Infallible> {
    /// One unit of work.
    type Item: Send;
    /// The work channel and the reusable batch buffer.
    fn queue(&mut self) -> (&mut UnboundedReceiver<Self::Item>, &mut Vec<Self::Item>);
    /// Handles a batch, leaving `batch` empty.
    fn handle(&mut self, batch: &mut Vec<Self::Item>) -> impl Future<Output = ()> + Send;
}

enum Event<A: Actor> {
    Work(usize),
    Signal(Option<Signal<A>>),
}

/// The `Actor::next` of a [`Pump`]: handles work until a signal must go to kameo.
pub(crate) async fn next_signal<A: Pump>(
    actor: &mut A,
    mailbox: &mut MailboxReceiver<A>,
) -> Result<Option<Signal<A>>, Infallible> {
    loop {
        let (queue, batch) = actor.queue();
        let mut taken = std::mem::take(batch);
        let event = tokio::select! {
            biased;
            n = queue.recv_many(&mut taken, BATCH) => Event::Work(n),
            signal = mailbox.recv() => Event::Signal(signal),
        };
        match event {
            Event::Work(0) => {
                // Every sender is gone: nothing more can arrive.
                return Ok(None);
            }
            Event::Work(_) => {
                actor.handle(&mut taken).await;
                *actor.queue().1 = taken;
            }
            Event::Signal(signal) => {
                *actor.queue().1 = taken;
                let stopping = matches!(signal, None | Some(Signal::Stop));
                if stopping {
                    drain(actor).await;
                }
                return Ok(signal);
            }
        }
    }
}

/// Handles every item already queued.
async fn drain<A: Pump>(actor: &mut A) {
    loop {
        let (queue, batch) = actor.queue();
        let mut taken = std::mem::take(batch);
        while taken.len() < BATCH {
            match queue.try_recv() {
                Ok(item) => taken.push(item),
                Err(_) => break,
            }
        }
        if taken.is_empty() {
            *actor.queue().1 = taken;
            return;
        }
        actor.handle(&mut taken).await;
        *actor.queue().1 = taken;
    }
}
