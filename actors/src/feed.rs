//! The change feed: committed operations, in sequence order, for subscribers.
//!
//! Each subscription has a bounded buffer of `feed_capacity` operations. Writers never
//! wait for a subscriber: when a buffer is full, the operations that do not fit are
//! dropped for that subscriber only, and its next receive reports
//! [`SubscriptionError::Lagged`] with the sequence numbers it missed before it goes on
//! with the operations after them.

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

enum Item<Pk, Row> {
    Op(Operation<Pk, Row>),
    Lagged { first: u64, last: u64 },
}

/// A receiver of a table's committed operations, in sequence order.
///
/// It buffers up to `feed_capacity` operations. Writers never wait for it: when the
/// buffer is full, the operations that do not fit are dropped for this subscription
/// only, and the next receive reports [`SubscriptionError::Lagged`] with the sequence
/// numbers missed before going on with the operations after them. Once the table has
/// shut down (or its last handle is dropped), it yields what it holds, then `Closed`.
pub struct Subscription<Pk, Row> {
    rx: flume::Receiver<Item<Pk, Row>>,
}

impl<Pk, Row> Subscription<Pk, Row> {
    fn unpack(item: Item<Pk, Row>) -> Result<Operation<Pk, Row>, SubscriptionError> {
        match item {
            Item::Op(op) => Ok(op),
            Item::Lagged { first, last } => Err(SubscriptionError::Lagged { first, last }),
        }
    }

    /// Waits for the next committed operation.
    pub async fn recv(&self) -> Result<Operation<Pk, Row>, SubscriptionError> {
        match self.rx.recv_async().await {
            Ok(item) => Self::unpack(item),
            Err(flume::RecvError::Disconnected) => Err(SubscriptionError::Closed),
        }
    }

    /// The next committed operation if one is waiting.
    pub fn try_recv(&self) -> Option<Result<Operation<Pk, Row>, SubscriptionError>> {
        match self.rx.try_recv() {
            Ok(item) => Some(Self::unpack(item)),
            Err(flume::TryRecvError::Empty) => None,
            Err(flume::TryRecvError::Disconnected) => Some(Err(SubscriptionError::Closed)),
        }
    }

    /// How many operations are waiting.
    pub fn len(&self) -> usize {
        self.rx.len()
    }

    /// Whether no operation is waiting.
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }
}

struct Subscriber<Pk, Row> {
    tx: flume::Sender<Item<Pk, Row>>,
    /// The first sequence number this subscriber missed and has not been told about.
    missed_from: Option<u64>,
}

impl<Pk, Row> Subscriber<Pk, Row> {
    /// Delivers `op`; returns `false` when the subscription is gone.
    fn deliver(&mut self, op: Operation<Pk, Row>) -> bool {
        let seq = op.seq;
        if let Some(first) = self.missed_from {
            match self.tx.try_send(Item::Lagged {
                first,
                last: seq - 1,
            }) {
                Ok(()) => self.missed_from = None,
                Err(flume::TrySendError::Full(_)) => return true,
                Err(flume::TrySendError::Disconnected(_)) => return false,
            }
        }
        match self.tx.try_send(Item::Op(op)) {
            Ok(()) => true,
            Err(flume::TrySendError::Full(_)) => {
                self.missed_from = Some(seq);
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
        if let Some(joining) = self.joining.lock().as_mut() {
            joining.push(Subscriber {
                tx,
                missed_from: None,
            });
            self.has_joining.store(true, Ordering::Release);
        }
        Subscription { rx }
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

    #[test]
    fn a_slow_subscriber_is_told_what_it_missed_and_writers_never_wait() {
        let registry = FeedRegistry::new(2);
        let sub = registry.subscribe();
        let mut publisher = FeedPublisher::new();
        publisher.admit(&registry);
        for seq in 1..=5 {
            publisher.publish(op(seq));
        }
        assert_eq!(sub.try_recv(), Some(Ok(op(1))));
        assert_eq!(sub.try_recv(), Some(Ok(op(2))));
        assert_eq!(sub.try_recv(), None);
        publisher.publish(op(6));
        assert_eq!(
            sub.try_recv(),
            Some(Err(SubscriptionError::Lagged { first: 3, last: 5 }))
        );
        assert_eq!(sub.try_recv(), Some(Ok(op(6))));
        drop(publisher);
        assert_eq!(sub.try_recv(), Some(Err(SubscriptionError::Closed)));
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
