//! Per-event CPU cost of the pure path: parse a lifecycle event, decide against the
//! stored state. Run: cargo bench --bench decide

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use iot_connectivity::presence::event::LifecycleEvent;
use iot_connectivity::presence::ordering::{decide, Latest, Mark, Presence};

const CONNECTED: &str = include_str!("../tests/fixtures/connected.json");
const DISCONNECTED: &str = include_str!("../tests/fixtures/disconnected.json");

fn per_event(c: &mut Criterion) {
    let stored = Latest {
        connect: Some(Mark {
            presence: Presence::Connected,
            version: 0,
            timestamp: 1573002230757,
        }),
        disconnect: None,
    };
    let payload: serde_json::Value = serde_json::from_str(DISCONNECTED).unwrap();

    c.bench_function("parse connected (text)", |b| {
        b.iter(|| LifecycleEvent::from_json(black_box(CONNECTED)).unwrap())
    });
    c.bench_function("parse + decide (Lambda payload)", |b| {
        b.iter(|| {
            let event = LifecycleEvent::parse(black_box(&payload)).unwrap();
            decide(black_box(&stored), &event.presence_mark().unwrap())
        })
    });
    let mark = Mark {
        presence: Presence::Disconnected,
        version: 0,
        timestamp: 1573002340451,
    };
    c.bench_function("decide", |b| {
        b.iter(|| decide(black_box(&stored), black_box(&mark)))
    });
}

criterion_group!(benches, per_event);
criterion_main!(benches);
