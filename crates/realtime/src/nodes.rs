//! What the other nodes tell this one ([`PeerNews`]), handed to whom it is for: their
//! members to presence ([`MemberSync`]), their room reports to the audience, and who comes
//! and goes to both.

use std::sync::Arc;

use crate::audience::{Audience, REPORT};
use crate::broker::{Broker, PeerNews, Peers};
use crate::presence::{HOUSEKEEPING, MemberSync, Presence};

/// Listens to `peers` until the broker is gone.
pub(crate) fn spawn(
    presence: Arc<Presence>,
    audience: Arc<Audience>,
    broker: Arc<dyn Broker>,
    peers: Peers,
) {
    tokio::spawn(run(MemberSync::new(presence, broker), audience, peers));
}

async fn run(mut members: MemberSync, audience: Arc<Audience>, mut peers: Peers) {
    let mut housekeeping = tokio::time::interval(HOUSEKEEPING);
    housekeeping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = housekeeping.tick() => members.housekeeping(),
            news = peers.next() => match news {
                Some(news) => hear(&mut members, &audience, news),
                None => return,
            },
        }
    }
}

fn hear(members: &mut MemberSync, audience: &Audience, news: PeerNews) {
    match &news {
        PeerNews::Message {
            from,
            topic,
            kind,
            body,
        } if kind == REPORT => {
            members.heard_from(topic, from);
            if !audience.hear(from, topic, body) {
                metrics::counter!("realtime_broker_malformed_total").increment(1);
            }
            return;
        }
        PeerNews::Linked => audience.relinked(),
        PeerNews::Departed(node) => audience.departed(node),
        _ => {}
    }
    members.hear(news);
}
