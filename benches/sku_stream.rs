//! The client streams a catalogue of 100,000 SKUs (`SkuService.List` in
//! pages of 1,000 from an emulator seeded with
//! [`Catalogue::synthetic`]) without holding them: each SKU is dropped once
//! counted, so the client's memory stays at about one page whatever the
//! length of the listing. For comparison, the same listing collected into a
//! `Vec` (what holding every SKU costs).
//!
//! Printed figures: items, pages, seconds and SKUs per second of the
//! streaming pass; the process's resident memory (`VmRSS` from
//! `/proc/self/status`, sampled after every page) at the start, its peak
//! growth while streaming, and its growth once every SKU is collected. The
//! emulator's own copy of the catalogue is built before the start figure,
//! so the growth is the client's.
//!
//! Run: `cargo bench --features emulator --bench sku_stream`.
//! Environment: `BENCH_SKUS` (default 100000), `BENCH_PAGE_SIZE` (default 1000).
//!
//! Output: `sku_stream mode=stream|collect skus= pages= seconds= skus_per_s=
//! rss_start_mib= rss_growth_mib=`.

#[path = "support/mod.rs"]
mod support;

use std::time::Instant;

use futures::StreamExt;
use yc_billing::emulator::Emulator;
use yc_billing::emulator::catalogue::Catalogue;
use yc_billing::money::Currency;

use support::env_or;

/// The resident set size in KiB (0 where `/proc` is not there).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let skus: usize = env_or("BENCH_SKUS", 100_000);
    let page_size: i64 = env_or("BENCH_PAGE_SIZE", 1000);
    let emu = Emulator::builder()
        .metadata_server(false)
        .catalogue(Catalogue::synthetic(skus))
        .start()
        .await?;
    let client = emu.client_builder().build().await?;
    // One warm-up page, so connection setup is not in the figures.
    client.skus().list(Currency::Rub).page_size(1).await?;

    let start_rss = rss_kib();
    let started = Instant::now();
    let mut stream = client
        .skus()
        .list(Currency::Rub)
        .page_size(page_size)
        .stream();
    let (mut count, mut peak) = (0usize, start_rss);
    while let Some(sku) = stream.next().await {
        let sku = sku?;
        count += 1;
        if count % page_size as usize == 0 {
            peak = peak.max(rss_kib());
        }
        drop(sku);
    }
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(count, skus, "every SKU streamed");
    let pages = count.div_ceil(page_size as usize);
    println!(
        "sku_stream mode=stream skus={count} pages={pages} seconds={seconds:.3} skus_per_s={:.0} rss_start_mib={:.1} rss_growth_mib={:.1}",
        count as f64 / seconds,
        mib(start_rss),
        mib(peak.saturating_sub(start_rss))
    );

    let before = rss_kib();
    let started = Instant::now();
    let all: Vec<_> = client
        .skus()
        .list(Currency::Rub)
        .page_size(page_size)
        .stream()
        .collect()
        .await;
    let seconds = started.elapsed().as_secs_f64();
    let held = rss_kib();
    println!(
        "sku_stream mode=collect skus={} pages={pages} seconds={seconds:.3} skus_per_s={:.0} rss_start_mib={:.1} rss_growth_mib={:.1}",
        all.len(),
        all.len() as f64 / seconds,
        mib(before),
        mib(held.saturating_sub(before))
    );
    drop(all);
    emu.shutdown().await;
    Ok(())
}
