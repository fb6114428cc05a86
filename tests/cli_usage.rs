//! `yc-billing usage …` against an in-process emulator: the report as JSON
//! (REST shapes), table (share bars), CSV and `--plot` SVG; the metadata
//! commands; errors and exit codes.
#![cfg(feature = "cli")]

use yc_billing::emulator::{DEFAULT_IAM_TOKEN, DEFAULT_RESELLER_ID, Emulator, EmulatorHandle};
use yc_billing::money::Decimal;

mod cli_support;
use cli_support::{Out, command, output};

async fn cli(emu: &EmulatorHandle, args: &[&str]) -> Out {
    let addr = emu.addr().to_string();
    let mut cmd = command(&[
        "--endpoint",
        &addr,
        "--plaintext",
        "--iam-token",
        DEFAULT_IAM_TOKEN,
    ]);
    cmd.args(args);
    output(cmd).await
}

async fn emulator() -> EmulatorHandle {
    Emulator::builder()
        .metadata_server(false)
        .start()
        .await
        .unwrap()
}

const RANGE: [&str; 6] = [
    "--billing-account-id",
    DEFAULT_RESELLER_ID,
    "--from",
    "2025-01-01",
    "--to",
    "2025-06-30",
];

fn report<'a>(by: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["usage", "report", "--by", by];
    v.extend(RANGE);
    v.extend(extra);
    v
}

fn dec(v: &serde_json::Value) -> Decimal {
    v["value"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn report_json_has_the_rest_shape_and_adds_up() {
    let emu = emulator().await;
    let out = cli(&emu, &report("service", &["--period", "quarter"]))
        .await
        .ok();
    let v = out.json();
    assert_eq!(v["currency"], "RUB");
    let entities = v["entitiesData"].as_array().unwrap();
    assert!(!entities.is_empty());
    let sum: Decimal = entities.iter().map(|e| dec(&e["cost"])).sum();
    assert_eq!(sum, dec(&v["cost"]));
    assert!(entities[0]["service"]["id"].is_string());
    let periodic = entities[0]["periodic"].as_array().unwrap();
    assert_eq!(periodic.len(), 2);
    assert_eq!(periodic[1]["timestamp"], "2025-04-01T00:00:00Z");
    assert!(v["creditDetails"]["monetaryGrantCredit"]["value"].is_string());
    emu.shutdown().await;
}

#[tokio::test]
async fn table_shows_each_entitys_share_and_csv_one_row_per_period() {
    let emu = emulator().await;
    let out = cli(
        &emu,
        &[&["--format", "table"][..], &report("cloud", &[])].concat(),
    )
    .await
    .ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("COST RUB") && lines[0].contains("SHARE")
    );
    assert!(lines.last().unwrap().starts_with("TOTAL"));
    assert!(
        lines[1].contains('█') && lines[1].contains('%'),
        "{}",
        out.stdout
    );
    let shares: Decimal = lines[1..lines.len() - 1]
        .iter()
        .map(|l| {
            l.trim_end()
                .trim_end_matches('%')
                .rsplit(' ')
                .next()
                .unwrap()
                .parse::<Decimal>()
                .unwrap()
        })
        .sum();
    assert!(
        (shares - Decimal::from(100)).abs() <= Decimal::ONE,
        "{shares}"
    );

    let out = cli(
        &emu,
        &[
            &["--format", "csv"][..],
            &report("folder", &["--period", "month"]),
        ]
        .concat(),
    )
    .await
    .ok();
    let mut r = csv::Reader::from_reader(out.stdout.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(header[..3], ["entity_id", "entity_name", "period_start"]);
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    let months: std::collections::BTreeSet<&str> = rows.iter().map(|r| &r[2]).collect();
    assert_eq!(months.len(), 6, "{months:?}");
    let expense: Decimal = rows.iter().map(|r| r[10].parse::<Decimal>().unwrap()).sum();
    let json = cli(&emu, &report("folder", &["--period", "month"]))
        .await
        .ok()
        .json();
    assert_eq!(expense, dec(&json["expense"]));
    emu.shutdown().await;
}

#[tokio::test]
async fn plot_writes_an_svg_with_axes_and_a_legend() {
    let emu = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    for (style, by) in [("stacked", "resource"), ("lines", "service")] {
        let path = dir.path().join(format!("{style}.svg"));
        let p = path.to_str().unwrap();
        let out = cli(
            &emu,
            &report(
                by,
                &["--period", "week", "--plot", p, "--plot-style", style],
            ),
        )
        .await
        .ok();
        let names: Vec<String> = out.json()["entitiesData"]
            .as_array()
            .unwrap()
            .iter()
            .take(3)
            .map(|e| {
                e[if by == "service" {
                    "service"
                } else {
                    "resource"
                }]["name"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg") || svg.contains("<svg"), "not SVG");
        assert!(svg.contains("expense, RUB"), "y axis with the currency");
        assert!(svg.contains("period start"), "x axis");
        assert!(svg.contains("2025-"), "dates on the x axis");
        for n in &names {
            assert!(svg.contains(n.as_str()), "legend entry {n}");
        }
        if by == "resource" {
            assert!(svg.contains("other ("), "the small ones are summed");
            assert!(svg.contains("<polygon"));
        } else {
            assert!(svg.contains("<polyline"));
        }
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn metadata_commands_and_errors() {
    let emu = emulator().await;
    let mut args = vec!["usage", "summary"];
    args.extend(RANGE);
    let v = cli(&emu, &args).await.ok().json();
    assert!(
        v["labelKeys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k == "env")
    );
    let mut args = vec!["usage", "clouds"];
    args.extend(RANGE);
    let v = cli(&emu, &args).await.ok().json();
    assert_eq!(v["items"].as_array().unwrap().len(), 3);
    let mut args = vec!["usage", "labels", "--key", "team"];
    args.extend(RANGE);
    assert!(
        !cli(&emu, &args).await.ok().json()["labelValues"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let mut args = vec!["usage", "resources"];
    args.extend(RANGE);
    assert!(
        cli(&emu, &args).await.ok().json()["items"]
            .as_array()
            .unwrap()
            .len()
            >= 2
    );
    let mut args = vec!["usage", "instances"];
    args.extend(RANGE);
    assert!(cli(&emu, &args).await.ok().json()["serviceInstances"].is_array());

    // Inverted range: refused before sending, naming the field; exit 2.
    let out = cli(
        &emu,
        &[
            "usage",
            "report",
            "--by",
            "account",
            "--billing-account-id",
            "x",
            "--from",
            "2025-02-01",
            "--to",
            "2025-01-01",
        ],
    )
    .await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("end_date"), "{}", out.stderr);
    // A bad date is a usage error.
    let out = cli(
        &emu,
        &[
            "usage",
            "report",
            "--by",
            "account",
            "--billing-account-id",
            "x",
            "--from",
            "2025-13-01",
            "--to",
            "2025-01-01",
        ],
    )
    .await;
    assert_eq!(out.code, 2);
    // Unknown account: exit 4.
    let out = cli(
        &emu,
        &[
            "usage",
            "report",
            "--by",
            "account",
            "--billing-account-id",
            "dn2nosuch",
            "--from",
            "2025-01-01",
            "--to",
            "2025-01-02",
        ],
    )
    .await;
    assert_eq!(out.code, 4, "{}", out.stderr);
    // CSV is for reports only.
    let mut args = vec!["--format", "csv", "usage", "summary"];
    args.extend(RANGE);
    let out = cli(&emu, &args).await;
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("csv"), "{}", out.stderr);
    emu.shutdown().await;
}
