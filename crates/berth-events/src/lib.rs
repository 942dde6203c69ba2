//! The event bus: a typed [`Event`] published by whoever changes something and received by
//! every subscriber (live log streams, the router, the reconciler).
//!
//! The database is the source of truth and the bus only a notification path. A subscriber that
//! falls behind is not slowed down for and does not slow the publisher: it is told how many
//! events it missed ([`Received::Lagged`]) and must then resynchronise from the store.
//!
//! Architecture invariant: no I/O beyond in-process channels; depends on berth-domain only.

use berth_domain::{
    ApplicationId, ApplicationStatus, DeploymentId, DeploymentStatus, DomainId, LogLine,
    OperationId, OperationStatus, StepName, StepState,
};
use tokio::sync::broadcast;

pub mod progress;
pub use progress::{CancelToken, Sink};

/// Everything that happens in berth that someone may want to watch.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A deployment was queued (`pending`) or moved on.
    DeploymentStatusChanged {
        deployment_id: DeploymentId,
        application_id: ApplicationId,
        status: DeploymentStatus,
    },
    StepChanged {
        deployment_id: DeploymentId,
        step: StepName,
        state: StepState,
    },
    /// A line of a deployment's log, as stored.
    DeploymentLog {
        line: LogLine,
    },
    /// An operation on an application was queued, started or ended.
    OperationStatusChanged {
        operation_id: OperationId,
        application_id: ApplicationId,
        status: OperationStatus,
    },
    ApplicationStatusChanged {
        application_id: ApplicationId,
        status: ApplicationStatus,
    },
    DomainsChanged {
        domain_id: Option<DomainId>,
    },
}

/// The publishing side. Cheap to clone; every clone publishes to the same subscribers.
#[derive(Debug, Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Event>,
}

/// What a subscriber gets from [`Subscription::recv`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    Event(Event),
    /// The subscriber fell behind and `missed` events were dropped for it. It must reload what
    /// it shows from the store; the stream carries on with newer events.
    Lagged {
        missed: u64,
    },
    /// The bus is gone (the server is shutting down).
    Closed,
}

impl EventBus {
    /// A bus whose subscribers may each fall `capacity` events behind before they lag.
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(1));
        Self { sender }
    }

    /// Sends an event to every current subscriber and returns how many there were. Never
    /// blocks and never fails: with no subscriber the event is simply not seen by anyone.
    pub fn publish(&self, event: Event) -> usize {
        self.sender.send(event).unwrap_or(0)
    }

    /// A subscription that receives every event published from now on.
    pub fn subscribe(&self) -> Subscription {
        Subscription {
            receiver: self.sender.subscribe(),
        }
    }

    pub fn subscriber_count(&self) -> usize {
        self.sender.receiver_count()
    }
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new(1024)
    }
}

#[derive(Debug)]
pub struct Subscription {
    receiver: broadcast::Receiver<Event>,
}

impl Subscription {
    /// The next event, a notice that events were missed, or the end of the bus.
    pub async fn recv(&mut self) -> Received {
        match self.receiver.recv().await {
            Ok(e) => Received::Event(e),
            Err(broadcast::error::RecvError::Lagged(missed)) => Received::Lagged { missed },
            Err(broadcast::error::RecvError::Closed) => Received::Closed,
        }
    }

    /// Like [`Self::recv`] without waiting: `None` when nothing is there yet.
    pub fn try_recv(&mut self) -> Option<Received> {
        match self.receiver.try_recv() {
            Ok(e) => Some(Received::Event(e)),
            Err(broadcast::error::TryRecvError::Empty) => None,
            Err(broadcast::error::TryRecvError::Lagged(missed)) => {
                Some(Received::Lagged { missed })
            }
            Err(broadcast::error::TryRecvError::Closed) => Some(Received::Closed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(n: u128) -> Event {
        Event::DeploymentStatusChanged {
            deployment_id: DeploymentId::from_uuid(uuid::Uuid::from_u128(n)),
            application_id: ApplicationId::from_uuid(uuid::Uuid::from_u128(0)),
            status: DeploymentStatus::Pending,
        }
    }

    #[tokio::test]
    async fn every_subscriber_gets_every_event_in_order() {
        let bus = EventBus::new(16);
        let mut a = bus.subscribe();
        let mut b = bus.subscribe();
        assert_eq!(bus.publish(queued(1)), 2);
        bus.publish(queued(2));
        for sub in [&mut a, &mut b] {
            assert_eq!(sub.recv().await, Received::Event(queued(1)));
            assert_eq!(sub.recv().await, Received::Event(queued(2)));
            assert_eq!(sub.try_recv(), None);
        }
    }

    #[tokio::test]
    async fn publishing_without_subscribers_is_fine() {
        let bus = EventBus::new(4);
        assert_eq!(bus.publish(queued(1)), 0);
        let mut late = bus.subscribe();
        assert_eq!(late.try_recv(), None, "a subscriber sees only later events");
    }

    #[tokio::test]
    async fn a_slow_subscriber_is_told_it_lagged_and_carries_on() {
        let bus = EventBus::new(4);
        let mut slow = bus.subscribe();
        let mut fast = bus.subscribe();
        for n in 0..10 {
            bus.publish(queued(n));
            assert_eq!(fast.recv().await, Received::Event(queued(n)));
        }
        assert_eq!(slow.recv().await, Received::Lagged { missed: 6 });
        for n in 6..10 {
            assert_eq!(slow.recv().await, Received::Event(queued(n)));
        }
    }

    #[tokio::test]
    async fn subscribers_learn_when_the_bus_is_gone() {
        let bus = EventBus::new(4);
        let mut sub = bus.subscribe();
        drop(bus);
        assert_eq!(sub.recv().await, Received::Closed);
    }
}
