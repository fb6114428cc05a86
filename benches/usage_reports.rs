//! `GetResourceUsageReport` in the emulator: a year of daily usage for
//! 10,000 resources, the report by month and by day, with the service's
//! bound on points ([`MAX_REPORT_POINTS`]), its answer messages and their
//! encoding. Target: at most 100 ms per report. Prints one line per case,
//! the median of five runs and its steps.
//!
//! The allocator is the `yc-billing` binary's (mimalloc); build with
//! `RUSTFLAGS='--cfg yc_system_alloc'` for the system one, which an
//! in-process emulator in a test harness usually has.
//!
//! `cargo bench --features fuzzing --bench usage_reports`

use std::time::{Duration, Instant};

use yc_billing::emulator::MAX_REPORT_POINTS;
use yc_billing::fuzzing::{ReportRun, UsageBench};

#[cfg(not(yc_system_alloc))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const RESOURCES: u32 = 10_000;
const DAYS: u32 = 365;
const RUNS: usize = 5;

fn main() {
    println!(
        "allocator: {}; the service refuses a report of more than {MAX_REPORT_POINTS} points",
        if cfg!(yc_system_alloc) {
            "system"
        } else {
            "mimalloc (as the yc-billing binary)"
        }
    );
    let started = Instant::now();
    let usage = UsageBench::generate(RESOURCES, DAYS, 7).expect("usage generates");
    println!(
        "generated {RESOURCES} resources x {DAYS} days: {} day rows in {:.2?}",
        usage.rows(),
        started.elapsed()
    );
    for (period, days) in [
        ("month", 365),
        ("week", 365),
        ("day", 31),
        ("day", 92),
        ("day", 365),
    ] {
        let mut runs: Vec<ReportRun> = (0..RUNS)
            .map(|_| usage.resource_report(period, days).expect("report"))
            .collect();
        runs.sort_by_key(|r| r.total);
        let median = &runs[RUNS / 2];
        let head = format!("GetResourceUsageReport by {period:<5} over {days:>3} days:");
        if let Some(why) = &median.refused {
            println!(
                "{head} refused ({why}) after {:.2?} (min {:.2?}, max {:.2?})",
                median.total,
                runs[0].total,
                runs[RUNS - 1].total
            );
            continue;
        }
        println!(
            "{head} median {:>8.2?} (min {:.2?}, max {:.2?}; sums {:.2?}, messages {:.2?}, encoding {:.2?}) \
             {} entities, {} points, {:.1} MB encoded  [{}]",
            median.total,
            runs[0].total,
            runs[RUNS - 1].total,
            median.compute,
            median.build,
            median.encode,
            median.entities,
            median.points,
            median.bytes as f64 / 1e6,
            if median.total <= Duration::from_millis(100) {
                "<= 100 ms target"
            } else {
                "over the 100 ms target"
            }
        );
    }
}
