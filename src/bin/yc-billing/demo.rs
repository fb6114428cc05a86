//! `yc-billing demo`: a reseller flow, one line per step.

use std::future::Future;
use std::io::Write;
use std::time::{Duration, Instant};

use clap::{ArgMatches, Args};
use futures::TryStreamExt;
use yc_billing::Client;
use yc_billing::emulator::catalogue::CONTRACT_BILLING_ACCOUNT_ID;
use yc_billing::emulator::{Emulator, EmulatorHandle, example_person as person, rest_binding};
use yc_billing::money::{Currency, Decimal};
use yc_billing::proto::paths;
use yc_billing::proto::yandex::cloud::billing::v1::ResetPeriodType;
use yc_billing::proto::yandex::cloud::billing::v1::{BillableObject, InviteCustomerRequest};
use yc_billing::services::CostBudget;
use yc_billing::services::filter::Filter;

use crate::commands::{Delta, parse_delta};
use crate::connect::{GlobalArgs, parse_duration};
use crate::output::{describe, exit_code};
use crate::wait::wait;

/// Options of `yc-billing demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The reseller's billing account; required with --endpoint (default: the emulator's).
    #[arg(long, env = "YC_BILLING_RESELLER_ID")]
    reseller_id: Option<String>,
    /// Cloud to bind to the invited customer's account (default with the
    /// emulator: a made-up id; against a real endpoint the step is skipped without it).
    #[arg(long)]
    cloud_id: Option<String>,
    /// Subject to grant billing.accounts.viewer (default with the emulator: a
    /// made-up user; against a real endpoint the step is skipped without it).
    #[arg(long, value_name = "SUBJECT_TYPE:SUBJECT_ID")]
    subject: Option<String>,
    /// Invitation e-mail of the invited customer.
    #[arg(long, default_value = "demo.invite@example.com")]
    email: String,
    /// Emulator only: operations complete this long after creation.
    #[arg(long, default_value = "50ms", value_parser = parse_duration)]
    operation_delay: Duration,
}

const TOTAL: usize = 13;
const WAIT_LIMIT: Duration = Duration::from_secs(120);

struct Steps {
    n: usize,
}

impl Steps {
    fn skip(&mut self, title: &str, why: &str) {
        self.n += 1;
        println!("[{:>2}/{TOTAL}] {title}: skipped ({why})", self.n);
    }

    /// Runs one step: prints its title and the equivalent command, then what it found.
    async fn run<T>(
        &mut self,
        title: &str,
        command: &str,
        step: impl Future<Output = anyhow::Result<(T, String)>>,
    ) -> anyhow::Result<T> {
        self.n += 1;
        println!("[{:>2}/{TOTAL}] {title}", self.n);
        println!("        $ yc-billing {command}");
        let _ = std::io::stdout().flush();
        let start = Instant::now();
        let (value, detail) = step.await?;
        println!(
            "        {} ({} ms)",
            crate::sanitize::line(&detail),
            start.elapsed().as_millis()
        );
        Ok(value)
    }
}

/// Runs the demo.
pub async fn run(args: DemoArgs, global: &GlobalArgs, matches: &ArgMatches) -> anyhow::Result<()> {
    let started = Instant::now();
    let emulator: Option<EmulatorHandle>;
    let client: Client;
    let (reseller_id, cloud_id, subject) = match &global.endpoint {
        None => {
            let emu = Emulator::builder()
                .operation_delay(args.operation_delay)
                .metadata_server(false)
                .start()
                .await?;
            println!(
                "yc-billing demo against the in-process emulator at {}",
                emu.endpoint()
            );
            println!(
                "(run it yourself: `yc-billing emulator`, then add `--endpoint {} --plaintext --iam-token {}` to the commands below)",
                emu.addr(),
                emu.credentials().iam_token
            );
            client = Client::builder()
                .endpoint(emu.addr().to_string())
                .plaintext(true)
                .request_timeout(global.timeout)
                .iam_token(emu.credentials().iam_token.clone())
                .build()
                .await?;
            let reseller = args
                .reseller_id
                .clone()
                .unwrap_or_else(|| emu.credentials().reseller_id.clone());
            emulator = Some(emu);
            (
                reseller,
                Some(
                    args.cloud_id
                        .clone()
                        .unwrap_or_else(|| "b1gemu0democloud0001".into()),
                ),
                Some(
                    args.subject
                        .clone()
                        .unwrap_or_else(|| "userAccount:ajeemu0demouser00001".into()),
                ),
            )
        }
        Some(endpoint) => {
            let Some(reseller) = args.reseller_id.clone() else {
                return Err(yc_billing::Error::config(
                    "--reseller-id",
                    "the demo needs the reseller's billing account id with --endpoint",
                )
                .into());
            };
            println!("yc-billing demo against {endpoint}");
            client = crate::connect::client(global, matches).await?;
            emulator = None;
            (reseller, args.cloud_id.clone(), args.subject.clone())
        }
    };
    println!("reseller billing account: {reseller_id}");
    println!();

    let customers = client.customers();
    let accounts = client.billing_accounts();
    let mut steps = Steps { n: 0 };

    steps
        .run("list billing accounts", "accounts list", async {
            let all: Vec<_> = accounts.list().stream().try_collect().await?;
            let names: Vec<String> = all
                .iter()
                .take(3)
                .map(|a| format!("{} {:?} {} {}", a.id, a.name, a.balance, a.currency))
                .collect();
            Ok((
                (),
                format!("{} billing account(s): {}", all.len(), names.join("; ")),
            ))
        })
        .await?;

    let invited = steps
        .run(
            "invite a customer and wait for the operation",
            &format!(
                "customers invite --reseller-id {reseller_id} --name \"Demo Invited\" --email {}",
                args.email
            ),
            async {
                let op = customers
                    .invite(
                        &reseller_id,
                        "Demo Invited",
                        &args.email,
                        person("Demo Invited", &args.email),
                    )
                    .await?;
                let id = op.id().to_owned();
                let (_, customer) = wait(op, WAIT_LIMIT).await?;
                let detail = format!(
                    "operation {id} done: customer {}, billing account {}",
                    customer.id, customer.billing_account_id
                );
                Ok((customer, detail))
            },
        )
        .await?;

    if let Some(rest) = emulator.as_ref().and_then(EmulatorHandle::rest_endpoint) {
        // The same step over the emulator's REST port, the request as proto3 JSON.
        let request = InviteCustomerRequest {
            reseller_id: reseller_id.clone(),
            name: "Demo Invited".into(),
            invitation_email: args.email.clone(),
            person: Some(person("Demo Invited", &args.email)),
        };
        if let Some((method, path)) = rest_binding(paths::billing::v1::customer_service::INVITE) {
            println!("        the same over REST:");
            println!(
                "        $ curl -X {method} {rest}{path} -H \"Authorization: Bearer $YC_IAM_TOKEN\" -H \"Content-Type: application/json\" -d '{}'",
                yc_billing::json::to_value(&request)?
            );
        }
    }

    steps
        .run(
            "activate the invited customer",
            &format!("customers activate {}", invited.id),
            async {
                let c = wait(customers.activate(&invited.id).await?, WAIT_LIMIT)
                    .await?
                    .1;
                Ok(((), format!("customer {} activated", c.id)))
            },
        )
        .await?;

    let served = steps
        .run(
            "create a reseller-served customer",
            &format!(
                "customers create-reseller-served --reseller-id {reseller_id} --name \"Demo Served\""
            ),
            async {
                let op = customers
                    .create_reseller_served(
                        &reseller_id,
                        "Demo Served",
                        person("Demo Served", "demo.served@example.com"),
                    )
                    .await?;
                let (_, c) = wait(op, WAIT_LIMIT).await?;
                let detail = format!(
                    "customer {}, billing account {}",
                    c.id, c.billing_account_id
                );
                Ok((c, detail))
            },
        )
        .await?;

    steps
        .run(
            "suspend the reseller-served customer",
            &format!("customers suspend {}", served.id),
            async {
                let c = wait(customers.suspend(&served.id).await?, WAIT_LIMIT)
                    .await?
                    .1;
                Ok(((), format!("customer {} suspended", c.id)))
            },
        )
        .await?;

    steps
        .run(
            "list the reseller's customers (all pages)",
            &format!("customers list --reseller-id {reseller_id}"),
            async {
                let all: Vec<_> = customers.list(&reseller_id).stream().try_collect().await?;
                let ids: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
                Ok(((), format!("{} customer(s): {}", all.len(), ids.join(", "))))
            },
        )
        .await?;

    let account = invited.billing_account_id.clone();
    match &cloud_id {
        Some(cloud) => {
            steps
                .run(
                    "bind a cloud to the invited customer's billing account",
                    &format!("accounts bindings bind {account} --cloud-id {cloud}"),
                    async {
                        let op = accounts
                            .bind_billable_object(&account, BillableObject::cloud(cloud))
                            .await?;
                        let (_, binding) = wait(op, WAIT_LIMIT).await?;
                        let object = binding.billable_object.unwrap_or_default();
                        let when = binding
                            .effective_time
                            .map(|t| t.to_string())
                            .unwrap_or_default();
                        Ok((
                            (),
                            format!("{} {} bound, effective {when}", object.r#type, object.id),
                        ))
                    },
                )
                .await?
        }
        None => steps.skip("bind a cloud", "pass --cloud-id"),
    }

    match subject
        .as_deref()
        .map(|s| parse_delta(&format!("billing.accounts.viewer:{s}")))
    {
        Some(Ok(Delta {
            role,
            subject_type,
            subject_id,
        })) => {
            steps
                .run(
                    "grant billing.accounts.viewer on the customer's account",
                    &format!(
                        "accounts access update {account} --add {role}:{subject_type}:{subject_id}"
                    ),
                    async {
                        let op = accounts
                            .update_access_bindings(&account)
                            .add(&role, &subject_type, &subject_id)
                            .await?;
                        let id = op.id().to_owned();
                        wait(op, WAIT_LIMIT).await?;
                        Ok(((), format!("operation {id} done")))
                    },
                )
                .await?
        }
        Some(Err(e)) => {
            return Err(yc_billing::Error::config("--subject", e).into());
        }
        None => steps.skip("grant billing.accounts.viewer", "pass --subject"),
    }

    steps
        .run(
            "list the access bindings of the customer's account",
            &format!("accounts access list {account}"),
            async {
                let all: Vec<_> = accounts
                    .list_access_bindings(&account)
                    .stream()
                    .try_collect()
                    .await?;
                let rows: Vec<String> = all
                    .iter()
                    .map(|b| {
                        let s = b.subject.clone().unwrap_or_default();
                        format!("{} → {}:{}", b.role_id, s.r#type, s.id)
                    })
                    .collect();
                Ok(((), format!("{} binding(s): {}", all.len(), rows.join("; "))))
            },
        )
        .await?;

    steps
        .run(
            "a usage report of the reseller account by service, 2025 by quarter",
            &format!(
                "--format table usage report --billing-account-id {reseller_id} --by service \\\n            --from 2025-01-01 --to 2025-12-31 --period quarter"
            ),
            async {
                let report = client
                    .usage()
                    .report(
                        &reseller_id,
                        time::macros::date!(2025 - 01 - 01),
                        time::macros::date!(2025 - 12 - 31),
                    )?
                    .period(yc_billing::services::usage::Period::Quarter)
                    .by_service()
                    .await?;
                let view = yc_billing::services::UsageReport::view(&report)?;
                let top = view.entities.first().map_or_else(
                    || "no usage".to_owned(),
                    |e| format!("largest: {} ({})", e.name, view.money(e.amounts.expense.round_dp(2)).map_or_else(|_| e.amounts.expense.to_string(), |m| m.to_string())),
                );
                Ok((
                    (),
                    format!(
                        "{} service(s), expense {} {}; {top}",
                        view.entities.len(),
                        view.expense.round_dp(2),
                        view.currency
                    ),
                ))
            },
        )
        .await?;

    // The emulator's seeded account with contract prices, else the customer's.
    let priced = match &emulator {
        Some(_) => CONTRACT_BILLING_ACCOUNT_ID.to_owned(),
        None => account.clone(),
    };
    steps
        .run(
            "the price of a Compute Cloud SKU, public and under a contract",
            "skus list --currency RUB --service-id SERVICE_ID --page-size 1",
            async {
                let services = client.billing_services().list().page_size(1).await?;
                let Some(service) = services.items.first() else {
                    return Ok(((), "no service in the catalogue".to_owned()));
                };
                let skus = client
                    .skus()
                    .list(Currency::Rub)
                    .filter(Filter::service_id(&service.id))
                    .page_size(1)
                    .await?;
                let Some(sku) = skus.items.first() else {
                    return Ok(((), format!("{}: no SKU", service.name)));
                };
                let now = std::time::SystemTime::now();
                let public = sku.unit_price_at(now)?;
                let contract = client
                    .skus()
                    .get(&sku.id, Currency::Rub)
                    .billing_account_id(&priced)
                    .await?
                    .unit_price_at(now)?;
                let show = |m: Option<yc_billing::money::Money>| {
                    m.map_or_else(|| "no price".to_owned(), |m| m.to_string())
                };
                Ok((
                    (),
                    format!(
                        "{} / {} ({}): {} per {}, {} for {priced}",
                        service.name,
                        sku.name,
                        sku.id,
                        show(public),
                        sku.pricing_unit,
                        show(contract)
                    ),
                ))
            },
        )
        .await?;

    let notify = match (&emulator, subject.as_deref()) {
        (Some(emu), _) => Some(emu.credentials().subject_id.clone()),
        (None, Some(s)) => s.strip_prefix("userAccount:").map(str::to_owned),
        (None, None) => None,
    };
    match notify {
        Some(user) => {
            steps
                .run(
                    "create a monthly cost budget on the customer's account and wait",
                    &format!(
                        "budgets create {account} --name \"Demo budget\" --kind cost --amount 10000 \
                         --end-date 2030-12-31 --reset monthly --notify {user} --threshold-percent 80"
                    ),
                    async {
                        let spec = CostBudget::new(Decimal::new(10_000, 0), "2030-12-31")
                            .reset(ResetPeriodType::Monthly)
                            .notify(&user)
                            .threshold_percent(Decimal::new(80, 0));
                        let op = client.budgets().create(&account, "Demo budget", spec).await?;
                        let (_, budget) = wait(op, WAIT_LIMIT).await?;
                        Ok((
                            (),
                            format!(
                                "budget {} of {} until 2030-12-31, status {}",
                                budget.id,
                                budget.amount()?,
                                budget.status().as_str_name()
                            ),
                        ))
                    },
                )
                .await?
        }
        None => steps.skip(
            "create a budget",
            "pass --subject userAccount:ID to notify",
        ),
    }

    let missing = "dn2demo0doesnotexist";
    steps
        .run(
            "a deliberate error: get a billing account that does not exist",
            &format!("accounts get {missing}"),
            async {
                match accounts.get(missing).await {
                    Ok(a) => anyhow::bail!("expected NOT_FOUND, got account {}", a.id),
                    Err(e) => {
                        println!("        the command prints on stderr:");
                        for line in describe(&e) {
                            println!("          {}", crate::sanitize::line(&line));
                        }
                        Ok(((), format!("and exits with code {}", exit_code(&e))))
                    }
                }
            },
        )
        .await?;

    println!();
    println!("demo finished in {:.2} s", started.elapsed().as_secs_f64());
    drop(client);
    drop(emulator);
    Ok(())
}
