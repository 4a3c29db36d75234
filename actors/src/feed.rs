//! The change feed: committed operations, in sequence order, for subscribers.
//!
//! Each subscription has a bounded buffer of `feed_capacity` operations (a flume
//! channel). Writers never wait for a subscriber: when a buffer is full, the operations
//! that do not fit are dropped for that subscriber only, and the sequence numbers missed
//! are recorded as a gap in state the subscription shares with the publisher, beside the
//! channel. The subscription reports a gap as [`SubscriptionError::Lagged`] once it has
//! handed out every buffered operation that precedes it, so the subscriber learns of it
//! at its next receive after those operations, whether or not anything is committed
//! later, and before `Closed`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use worktable_persistence::Operation;

/// Why a subscription returned no operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubscriptionError {
    /// The subscriber fell behind and the operations `first..=last` were dropped for it.
    /// Later operations follow.
    #[error("subscriber lagged: operations {first}..={last} were dropped")]
    Lagged {
        /// The first sequence number missed.
        first: u64,
        /// The last sequence number missed.
        last: u64,
    },
    /// The table shut down and every operation has been received.
    #[error("the table has shut down")]
    Closed,
}

/// A run of sequence numbers `first..=last` dropped for one subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Gap {
    first: u64,
    last: u64,
}

/// The gaps of one subscription, oldest first, not yet reported to it. Written by the
/// publisher when an operation does not fit, read by the subscription. There are at most
/// `feed_capacity + 1` of them: two gaps are always separated by a delivered operation.
type Gaps = Arc<Mutex<VecDeque<Gap>>>;

/// A receiver of a table's committed operations, in sequence order.
///
/// It buffers up to `feed_capacity` operations (the declaration's
/// `config: { feed_capacity: N }`, 65 536 by default). Writers never wait for it: when
/// the buffer is full, the operations that do not fit are dropped for this subscription
/// only.
///
/// # What a subscriber sees, in order
///
/// 1. The operations committed after it subscribed, each once, by increasing sequence
///    number, up to the first operation it missed.
/// 2. For each run of operations it missed, one `Err(`[`SubscriptionError::Lagged`]`)`
///    naming the first and last sequence number of the run, exactly where the run was:
///    after every operation before it, before every operation after it. It comes as soon
///    as the operations before it have been received, even if nothing is committed
///    afterwards. (Two runs can be reported back to back, when the second started
///    before the first was reported.)
/// 3. Then the operations after the run, and so on.
/// 4. Once the table has shut down (or its last handle is dropped): what it still holds,
///    any run missed at the end reported as `Lagged`, then `Err(`[`SubscriptionError::Closed`]`)`
///    on every later call.
///
/// So the sequence numbers of the operations received, together with the `Lagged`
/// ranges, count up by one without a hole. Receive from one task at a time: concurrent
/// calls each get a different item, but which gets which is a race.
pub struct Subscription<Pk, Row> {
    rx: flume::Receiver<Operation<Pk, Row>>,
    gaps: Gaps,
    /// Operations taken from the channel and not yet handed out, because a gap before
    /// them had to be reported first.
    held: Mutex<VecDeque<Operation<Pk, Row>>>,
}

impl<Pk, Row> Subscription<Pk, Row> {
    /// The next item when one is ready without waiting: a held operation or the gap
    /// before it, an operation from the channel or the gap before it, or, with nothing
    /// buffered, a gap. `Err(Empty)`/`Err(Disconnected)` when there is none.
    fn ready(&self) -> Result<Result<Operation<Pk, Row>, SubscriptionError>, flume::TryRecvError> {
        let mut held = self.held.lock();
        loop {
            if !held.is_empty() {
                return Ok(self.next_held(&mut held));
            }
            match self.rx.try_recv() {
                Ok(op) => held.push_back(op),
                Err(empty_or_closed) => {
                    let mut gaps = self.gaps.lock();
                    // The publisher sends the operations before a gap, then records the
                    // gap under this lock. With the lock held and the channel still
                    // empty, every operation before a recorded gap has been handed out,
                    // so the oldest gap is next. Otherwise an operation came in since
                    // `try_recv`, and it may precede the gap: take it first.
                    if !self.rx.is_empty() {
                        continue;
                    }
                    return match gaps.pop_front() {
                        Some(gap) => Ok(Err(lagged(gap))),
                        None => Err(empty_or_closed),
                    };
                }
            }
        }
    }

    /// The first held operation, or the gap that precedes it. `held` is not empty.
    fn next_held(
        &self,
        held: &mut VecDeque<Operation<Pk, Row>>,
    ) -> Result<Operation<Pk, Row>, SubscriptionError> {
        let mut gaps = self.gaps.lock();
        let before = |op: &Operation<Pk, Row>, gap: &Gap| gap.first < op.seq;
        if let (Some(op), Some(gap)) = (held.front(), gaps.front())
            && before(op, gap)
        {
            let gap = *gap;
            gaps.pop_front();
            return Err(lagged(gap));
        }
        held.pop_front().ok_or(SubscriptionError::Closed)
    }

    /// Waits for the next committed operation, or the report of a gap or of the end (see
    /// the [type docs](Subscription) for the order).
    pub async fn recv(&self) -> Result<Operation<Pk, Row>, SubscriptionError> {
        match self.ready() {
            Ok(item) => return item,
            Err(flume::TryRecvError::Disconnected) => return Err(SubscriptionError::Closed),
            Err(flume::TryRecvError::Empty) => {}
        }
        // Nothing buffered and no gap: while the channel is empty no operation can be
        // dropped, so the next item comes through the channel.
        match self.rx.recv_async().await {
            Ok(op) => {
                let mut held = self.held.lock();
                held.push_back(op);
                self.next_held(&mut held)
            }
            Err(flume::RecvError::Disconnected) => match self.ready() {
                Ok(item) => item,
                Err(_) => Err(SubscriptionError::Closed),
            },
        }
    }

    /// The next item if one is ready, without waiting: an operation, a `Lagged` report
    /// or `Closed`, in the order described in the [type docs](Subscription).
    pub fn try_recv(&self) -> Option<Result<Operation<Pk, Row>, SubscriptionError>> {
        match self.ready() {
            Ok(item) => Some(item),
            Err(flume::TryRecvError::Empty) => None,
            Err(flume::TryRecvError::Disconnected) => Some(Err(SubscriptionError::Closed)),
        }
    }

    /// How many operations are waiting (`Lagged` reports not counted).
    pub fn len(&self) -> usize {
        self.rx.len() + self.held.lock().len()
    }

    /// Whether no operation is waiting; a `Lagged` report may still be.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn lagged(gap: Gap) -> SubscriptionError {
    SubscriptionError::Lagged {
        first: gap.first,
        last: gap.last,
    }
}

struct Subscriber<Pk, Row> {
    tx: flume::Sender<Operation<Pk, Row>>,
    gaps: Gaps,
}

impl<Pk, Row> Subscriber<Pk, Row> {
    /// Delivers `op`, or records it as missed when the buffer is full; returns `false`
    /// when the subscription is gone.
    fn deliver(&mut self, op: Operation<Pk, Row>) -> bool {
        let seq = op.seq;
        match self.tx.try_send(op) {
            Ok(()) => true,
            Err(flume::TrySendError::Full(_)) => {
                let mut gaps = self.gaps.lock();
                // Extend the newest gap if it ends just before `seq` and has not been
                // reported yet; otherwise this starts a new one.
                match gaps.back_mut() {
                    Some(gap) if gap.last.checked_add(1) == Some(seq) => gap.last = seq,
                    _ => gaps.push_back(Gap {
                        first: seq,
                        last: seq,
                    }),
                }
                true
            }
            Err(flume::TrySendError::Disconnected(_)) => false,
        }
    }
}

/// Subscriptions waiting to be picked up by the commit point.
pub(crate) struct FeedRegistry<Pk, Row> {
    /// `None` once the feed has ended: later subscriptions are closed at once.
    joining: Mutex<Option<Vec<Subscriber<Pk, Row>>>>,
    has_joining: AtomicBool,
    capacity: usize,
}

impl<Pk, Row> FeedRegistry<Pk, Row> {
    /// A registry whose subscriptions buffer `capacity` operations each (at least one).
    pub(crate) fn new(capacity: usize) -> Self {
        FeedRegistry {
            joining: Mutex::new(Some(Vec::new())),
            has_joining: AtomicBool::new(false),
            capacity: capacity.max(1),
        }
    }

    /// A new subscription; it sees every operation committed after the commit point
    /// next picks it up, which is before any write that starts after this call.
    pub(crate) fn subscribe(&self) -> Subscription<Pk, Row> {
        let (tx, rx) = flume::bounded(self.capacity);
        let gaps = Gaps::default();
        if let Some(joining) = self.joining.lock().as_mut() {
            joining.push(Subscriber {
                tx,
                gaps: Arc::clone(&gaps),
            });
            self.has_joining.store(true, Ordering::Release);
        }
        Subscription {
            rx,
            gaps,
            held: Mutex::new(VecDeque::new()),
        }
    }
}

/// The commit point's side of the feed: the live subscribers.
pub(crate) struct FeedPublisher<Pk, Row> {
    subscribers: Vec<Subscriber<Pk, Row>>,
}

impl<Pk: Clone, Row: Clone> FeedPublisher<Pk, Row> {
    pub(crate) fn new() -> Self {
        FeedPublisher {
            subscribers: Vec::new(),
        }
    }

    /// Takes in subscriptions made since the last call.
    pub(crate) fn admit(&mut self, registry: &FeedRegistry<Pk, Row>) {
        if registry.has_joining.swap(false, Ordering::Acquire) {
            if let Some(joining) = registry.joining.lock().as_mut() {
                self.subscribers.append(joining);
            }
        }
    }

    /// Whether anybody listens; when not, callers skip building operations.
    pub(crate) fn is_listened(&self) -> bool {
        !self.subscribers.is_empty()
    }

    /// Ends every subscription, present and future: each receives what it has
    /// buffered, then `Closed`.
    pub(crate) fn close(&mut self, registry: &FeedRegistry<Pk, Row>) {
        self.subscribers.clear();
        *registry.joining.lock() = None;
    }

    /// Hands `op` to every subscriber, dropping the ones that went away.
    pub(crate) fn publish(&mut self, op: Operation<Pk, Row>) {
        let Some(last) = self.subscribers.len().checked_sub(1) else {
            return;
        };
        let mut op = Some(op);
        let mut gone = false;
        for (index, subscriber) in self.subscribers.iter_mut().enumerate() {
            let this = if index == last { op.take() } else { op.clone() };
            if let Some(this) = this {
                gone |= !subscriber.deliver(this);
            }
        }
        if gone {
            self.subscribers.retain(|s| !s.tx.is_disconnected());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use worktable_persistence::OperationKind;

    fn op(seq: u64) -> Operation<u64, u64> {
        Operation {
            seq,
            kind: OperationKind::Insert,
            pk: seq,
            row: Some(seq),
        }
    }

    /// A subscription of capacity `capacity`, admitted by a publisher.
    fn subscribed(
        capacity: usize,
    ) -> (
        FeedRegistry<u64, u64>,
        FeedPublisher<u64, u64>,
        Subscription<u64, u64>,
    ) {
        let registry = FeedRegistry::new(capacity);
        let sub = registry.subscribe();
        let mut publisher = FeedPublisher::new();
        publisher.admit(&registry);
        (registry, publisher, sub)
    }

    fn lagged(first: u64, last: u64) -> Option<Result<Operation<u64, u64>, SubscriptionError>> {
        Some(Err(SubscriptionError::Lagged { first, last }))
    }

    #[test]
    fn a_lag_is_reported_after_the_operations_before_it_without_another_write() {
        let (_registry, mut publisher, sub) = subscribed(2);
        for seq in 1..=5 {
            publisher.publish(op(seq));
        }
        assert_eq!(sub.try_recv(), Some(Ok(op(1))));
        assert_eq!(sub.try_recv(), Some(Ok(op(2))));
        assert_eq!(
            sub.try_recv(),
            lagged(3, 5),
            "no write needed to learn of it"
        );
        assert_eq!(sub.try_recv(), None);
        publisher.publish(op(6));
        assert_eq!(sub.try_recv(), Some(Ok(op(6))));
        drop(publisher);
        assert_eq!(sub.try_recv(), Some(Err(SubscriptionError::Closed)));
    }

    #[test]
    fn gaps_come_exactly_where_the_operations_were_missed() {
        let (_registry, mut publisher, sub) = subscribed(2);
        for seq in 1..=4 {
            publisher.publish(op(seq)); // 1, 2 buffered; 3, 4 missed
        }
        assert_eq!(sub.try_recv(), Some(Ok(op(1))));
        publisher.publish(op(5)); // buffered behind 2
        publisher.publish(op(6)); // missed
        publisher.publish(op(7)); // missed, same gap
        assert_eq!(sub.len(), 2);
        assert_eq!(sub.try_recv(), Some(Ok(op(2))));
        assert_eq!(sub.try_recv(), lagged(3, 4));
        assert_eq!(sub.try_recv(), Some(Ok(op(5))));
        assert_eq!(sub.try_recv(), lagged(6, 7));
        assert_eq!(sub.try_recv(), None);
    }

    #[test]
    fn a_gap_started_before_the_last_was_reported_is_reported_on_its_own() {
        let (_registry, mut publisher, sub) = subscribed(1);
        publisher.publish(op(1));
        publisher.publish(op(2)); // missed
        assert_eq!(sub.try_recv(), Some(Ok(op(1))));
        assert_eq!(sub.try_recv(), lagged(2, 2));
        publisher.publish(op(3));
        publisher.publish(op(4)); // missed: a new gap, the first was reported
        assert_eq!(sub.try_recv(), Some(Ok(op(3))));
        assert_eq!(sub.try_recv(), lagged(4, 4));
    }

    #[test]
    fn a_lag_comes_before_closed() {
        let (registry, mut publisher, sub) = subscribed(2);
        for seq in 1..=5 {
            publisher.publish(op(seq));
        }
        publisher.close(&registry);
        assert_eq!(sub.try_recv(), Some(Ok(op(1))));
        assert_eq!(sub.try_recv(), Some(Ok(op(2))));
        assert_eq!(sub.try_recv(), lagged(3, 5));
        assert_eq!(sub.try_recv(), Some(Err(SubscriptionError::Closed)));
        assert_eq!(sub.try_recv(), Some(Err(SubscriptionError::Closed)));
    }

    #[tokio::test]
    async fn recv_reports_a_lag_in_order_without_another_write() {
        let (registry, mut publisher, sub) = subscribed(2);
        for seq in 1..=5 {
            publisher.publish(op(seq));
        }
        assert_eq!(sub.recv().await, Ok(op(1)));
        assert_eq!(sub.recv().await, Ok(op(2)));
        assert_eq!(
            sub.recv().await,
            Err(SubscriptionError::Lagged { first: 3, last: 5 })
        );
        let waiting = tokio::spawn(async move { (sub.recv().await, sub) });
        tokio::task::yield_now().await;
        publisher.publish(op(6));
        publisher.close(&registry);
        let (next, sub) = waiting.await.expect("receiver task");
        assert_eq!(next, Ok(op(6)));
        assert_eq!(sub.recv().await, Err(SubscriptionError::Closed));
    }

    /// Waits a moment in a spin loop, giving the core away every 64 spins: each side of
    /// the race below needs the other to run, and on a machine with fewer cores than
    /// busy threads a pure spin would wait out whole time slices.
    fn spin(spins: &mut u32) {
        *spins = spins.wrapping_add(1);
        if *spins % 64 == 0 {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }

    /// The race: the reader finds the channel empty, then the writer sends an operation
    /// and misses the next before the reader looks at the gaps. The writer publishes
    /// pairs (one buffered, one missed) right when the reader has emptied everything,
    /// so the reader, spinning, is often between the two looks.
    #[test]
    fn a_writer_racing_a_reader_never_puts_a_gap_out_of_order() {
        const PAIRS: u64 = 50_000;
        let (registry, mut publisher, sub) = subscribed(1);
        let gaps = Arc::clone(&sub.gaps);
        let reader = std::thread::spawn(move || {
            let mut next = 1;
            let mut spins = 0u32;
            loop {
                match sub.try_recv() {
                    None => spin(&mut spins),
                    Some(Ok(op)) => {
                        assert_eq!(op.seq, next, "operations count up");
                        next += 1;
                    }
                    Some(Err(SubscriptionError::Lagged { first, last })) => {
                        assert_eq!(first, next, "a gap starts where the operations stop");
                        assert!(last >= first);
                        next = last + 1;
                    }
                    Some(Err(SubscriptionError::Closed)) => return next,
                }
            }
        });
        let mut spins = 0u32;
        for pair in 0..PAIRS {
            let drained = || publisher.subscribers[0].tx.is_empty() && gaps.lock().is_empty();
            while !drained() && !reader.is_finished() {
                spin(&mut spins);
            }
            publisher.publish(op(2 * pair + 1));
            publisher.publish(op(2 * pair + 2));
        }
        publisher.close(&registry);
        assert_eq!(
            reader.join().expect("the reader saw every item in order"),
            2 * PAIRS + 1,
            "every seq accounted for"
        );
    }

    #[test]
    fn dropped_subscriptions_are_forgotten() {
        let registry = FeedRegistry::new(4);
        let keep = registry.subscribe();
        drop(registry.subscribe());
        let mut publisher = FeedPublisher::new();
        publisher.admit(&registry);
        publisher.publish(op(1));
        assert_eq!(publisher.subscribers.len(), 1);
        assert_eq!(keep.try_recv(), Some(Ok(op(1))));
    }
}
