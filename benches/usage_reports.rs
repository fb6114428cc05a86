//! `GetResourceUsageReport` in the emulator: a year of daily usage for
//! 10,000 resources, the report by month and by day (aggregation and the
//! answer's messages, as the service builds them; no size cap). Target:
//! at most 100 ms per report. Prints one line per case.
//!
//! `cargo bench --features fuzzing --bench usage_reports`

use std::time::{Duration, Instant};

use yc_billing::fuzzing::UsageBench;

const RESOURCES: u32 = 10_000;
const DAYS: u32 = 365;
const RUNS: usize = 5;

fn main() {
    let started = Instant::now();
    let usage = UsageBench::generate(RESOURCES, DAYS, 7).expect("usage generates");
    println!(
        "generated {RESOURCES} resources x {DAYS} days: {} day rows in {:.2?}",
        usage.rows(),
        started.elapsed()
    );
    for (period, days) in [("month", 365), ("week", 365), ("day", 365), ("day", 31)] {
        let mut times: Vec<Duration> = Vec::with_capacity(RUNS);
        let mut shape = (0, 0, 0);
        for _ in 0..RUNS {
            let t = Instant::now();
            shape = usage.resource_report(period, days).expect("report");
            times.push(t.elapsed());
        }
        times.sort();
        let (bytes, entities, points) = shape;
        println!(
            "GetResourceUsageReport by {period:<5} over {days:>3} days: median {:>8.2?} (min {:.2?}, max {:.2?}) \
             {entities} entities, {points} points, {:.1} MB encoded{}",
            times[RUNS / 2],
            times[0],
            times[RUNS - 1],
            bytes as f64 / 1e6,
            if times[RUNS / 2] <= Duration::from_millis(100) {
                "  [<= 100 ms target]"
            } else {
                "  [over the 100 ms target]"
            }
        );
    }
}
