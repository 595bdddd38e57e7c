//! The per-container cost: attach + detach on a bridge, measured N times
//! in a namespace of the test's own; the median is printed (run with
//! `--nocapture`; `cargo run --release --example attach_bench` for the
//! optimised figure).

use std::time::{Duration, Instant};

use crate::fixture::*;

#[test]
fn attach_detach_time() {
    let mut host = Host::new();
    host.bridge("nk-bench", &["10.83.0.1/16", "fd83::1/64"]);
    let c = host.container("c");
    let mut times = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        host.attach(
            &c,
            "nk-bench",
            "nkbench",
            &["10.83.0.2/16", "fd83::2/64"],
            &["10.83.0.1", "fd83::1"],
        )
        .unwrap();
        assert!(nook_network::attach::detach(&mut host.nl, "nkbench").unwrap());
        times.push(start.elapsed());
    }
    times.sort();
    let median = times[times.len() / 2];
    eprintln!(
        "attach+detach (debug build): median {median:?} of {}",
        times.len()
    );
    // Not a benchmark bound (the machine is shared): a sanity bound that
    // catches a sleep or a retry loop creeping in.
    assert!(median < Duration::from_millis(100), "median {median:?}");
}
