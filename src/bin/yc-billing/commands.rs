//! `customers`, `accounts` and `operations`: one subcommand per RPC.

use clap::{Args, Subcommand};
use futures::TryStreamExt;
use prost::{Message, Name};
use yc_billing::Client;
use yc_billing::operation::{check_operation, outcome};
use yc_billing::proto::yandex::cloud::access::{AccessBindingAction, ListAccessBindingsResponse};
use yc_billing::proto::yandex::cloud::billing::v1::{
    BillableObject, CustomerPerson, ListBillableObjectBindingsResponse,
    ListBillingAccountsResponse, ListCustomersResponse,
};
use yc_billing::services::{Call, PageRequest};
use yc_billing::{Operation, RawOperation};

use crate::connect::GlobalArgs;
use crate::output::{json, print};
use crate::wait::{WaitArgs, wait, wait_done};

/// Paging of list commands.
#[derive(Debug, Clone, Args)]
pub struct PageArgs {
    /// Fetch one page of at most N items (prints `nextPageToken` when there is more).
    #[arg(long, value_name = "N")]
    pub page_size: Option<i64>,
    /// Fetch the page with this token (from an earlier `nextPageToken`).
    #[arg(long, value_name = "TOKEN")]
    pub page_token: Option<String>,
    /// Give up (exit 1) rather than fetch more than N pages in one listing;
    /// a repeated page token ends it at once.
    #[arg(long, value_name = "N", default_value_t = yc_billing::pagination::DEFAULT_MAX_PAGES,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_pages: u32,
}

/// `customers …`
#[derive(Debug, Subcommand)]
pub enum CustomersCmd {
    /// List the customers of a reseller (`{"customers": [...]}`).
    List {
        /// The reseller's billing account id.
        #[arg(long, env = "YC_BILLING_RESELLER_ID")]
        reseller_id: String,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Invite a customer by e-mail; prints the customer.
    Invite {
        /// The reseller's billing account id.
        #[arg(long, env = "YC_BILLING_RESELLER_ID")]
        reseller_id: String,
        /// The customer's name.
        #[arg(long)]
        name: String,
        /// Where the invitation goes.
        #[arg(long, value_name = "EMAIL")]
        email: String,
        #[command(flatten)]
        person: PersonArgs,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Create a customer served by the reseller; prints the customer.
    CreateResellerServed {
        /// The reseller's billing account id.
        #[arg(long, env = "YC_BILLING_RESELLER_ID")]
        reseller_id: String,
        /// The customer's name.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        person: PersonArgs,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Activate a customer; prints the customer.
    Activate {
        /// The customer's id.
        customer_id: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Suspend a customer; prints the customer.
    Suspend {
        /// The customer's id.
        customer_id: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
}

/// The customer's person data: one flag per field of `CustomerPerson`, made
/// from its descriptor (so a field added to the proto is a flag at once):
/// `--person-<field>` (`--person-phone`, `--person-post-code`), also
/// `--<field>` (`--phone`) where the command has no `--<field>` of its own;
/// where it has (`--name`, `--email`), that one is the default.
#[derive(Debug, Clone, Default)]
pub struct PersonArgs {
    /// `(proto field name, value)` of the flags given.
    given: Vec<(String, String)>,
}

/// The id of a person flag: its proto field, under `person.`.
fn person_arg_id(field: &str) -> String {
    format!("person.{field}")
}

fn person_message() -> anyhow::Result<prost_reflect::MessageDescriptor> {
    yc_billing::json::descriptor_pool()
        .get_message_by_name(CustomerPerson::full_name().as_str())
        .ok_or_else(|| anyhow::anyhow!("{} is not in the schema", CustomerPerson::full_name()))
}

fn person_fields() -> Vec<prost_reflect::FieldDescriptor> {
    person_message()
        .map(|m| m.fields().collect())
        .unwrap_or_default()
}

impl clap::FromArgMatches for PersonArgs {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let mut args = PersonArgs::default();
        args.update_from_arg_matches(matches)?;
        Ok(args)
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        for field in person_fields() {
            if let Some(value) = matches.get_one::<String>(&person_arg_id(field.name())) {
                self.given.push((field.name().to_owned(), value.clone()));
            }
        }
        Ok(())
    }
}

impl Args for PersonArgs {
    fn augment_args(mut cmd: clap::Command) -> clap::Command {
        for field in person_fields() {
            let flag = field.name().replace('_', "-");
            let own = cmd
                .get_arguments()
                .any(|a| a.get_long() == Some(flag.as_str()));
            let mut arg = clap::Arg::new(person_arg_id(field.name()))
                .long(format!("person-{flag}"))
                .value_name("TEXT");
            arg = if own {
                arg.help(format!("person.{} (default: --{flag})", field.json_name()))
            } else {
                arg.visible_alias(flag)
                    .help(format!("person.{}", field.json_name()))
            };
            cmd = cmd.arg(arg);
        }
        cmd
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl PersonArgs {
    /// The person: the flags given, over `name` and `email` (the command's
    /// own arguments).
    fn person(self, name: &str, email: Option<&str>) -> anyhow::Result<CustomerPerson> {
        let defaults = CustomerPerson {
            name: name.to_owned(),
            email: email.unwrap_or_default().to_owned(),
            ..Default::default()
        };
        let mut person = prost_reflect::DynamicMessage::new(person_message()?);
        person.transcode_from(&defaults)?;
        for (field, value) in self.given {
            person
                .try_set_field_by_name(&field, prost_reflect::Value::String(value))
                .map_err(|e| anyhow::anyhow!("--person-{}: {e}", field.replace('_', "-")))?;
        }
        Ok(person.transcode_to()?)
    }
}

/// `accounts …`
#[derive(Debug, Subcommand)]
pub enum AccountsCmd {
    /// Show one billing account.
    Get {
        /// The billing account's id.
        id: String,
    },
    /// List the billing accounts the caller can see (`{"billingAccounts": [...]}`).
    List {
        #[command(flatten)]
        page: PageArgs,
    },
    /// Billable-object bindings of a billing account.
    #[command(subcommand)]
    Bindings(BindingsCmd),
    /// Access bindings of a billing account.
    #[command(subcommand)]
    Access(AccessCmd),
}

/// `accounts bindings …`
#[derive(Debug, Subcommand)]
pub enum BindingsCmd {
    /// List the objects bound to a billing account (`{"billableObjectBindings": [...]}`).
    List {
        /// The billing account's id.
        billing_account_id: String,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Bind an object (a cloud) to a billing account; prints the binding.
    Bind {
        /// The billing account's id.
        billing_account_id: String,
        /// The cloud to bind.
        #[arg(long, required_unless_present = "object", conflicts_with = "object")]
        cloud_id: Option<String>,
        /// Any billable object as TYPE:ID.
        #[arg(long, value_name = "TYPE:ID", value_parser = parse_object)]
        object: Option<BillableObject>,
        #[command(flatten)]
        wait: WaitArgs,
    },
}

/// `accounts access …`
#[derive(Debug, Subcommand)]
pub enum AccessCmd {
    /// List the access bindings of a billing account (`{"accessBindings": [...]}`).
    List {
        /// The billing account's id.
        billing_account_id: String,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Grant and revoke roles; prints the finished operation (its response is empty).
    #[command(group = clap::ArgGroup::new("deltas").required(true).multiple(true))]
    Update {
        /// The billing account's id.
        billing_account_id: String,
        /// Grant ROLE to a subject, e.g. billing.accounts.viewer:userAccount:ajeXXXX (repeatable).
        #[arg(long, value_name = "ROLE:SUBJECT_TYPE:SUBJECT_ID", value_parser = parse_delta,
              group = "deltas")]
        add: Vec<Delta>,
        /// Revoke ROLE from a subject (repeatable).
        #[arg(long, value_name = "ROLE:SUBJECT_TYPE:SUBJECT_ID", value_parser = parse_delta,
              group = "deltas")]
        remove: Vec<Delta>,
        #[command(flatten)]
        wait: WaitArgs,
    },
}

/// `operations …`
#[derive(Debug, Subcommand)]
pub enum OperationsCmd {
    /// Show an operation (metadata and response unpacked, with `@type`).
    Get {
        /// The operation's id.
        id: String,
    },
    /// Wait for an operation and print it once done; exits non-zero if it failed.
    Wait {
        /// The operation's id.
        id: String,
        /// Give up after this long.
        #[arg(long, default_value = "10m", value_parser = crate::connect::parse_duration)]
        wait_timeout: std::time::Duration,
    },
    /// Ask the server to cancel an operation; prints it.
    Cancel {
        /// The operation's id.
        id: String,
    },
}

/// One `--add`/`--remove` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delta {
    /// Role id.
    pub role: String,
    /// Subject type (`userAccount`, `serviceAccount`, `federatedUser`, …).
    pub subject_type: String,
    /// Subject id.
    pub subject_id: String,
}

/// Parses `ROLE:SUBJECT_TYPE:SUBJECT_ID`.
pub fn parse_delta(s: &str) -> Result<Delta, String> {
    let parts: Vec<&str> = s.splitn(3, ':').collect();
    match parts.as_slice() {
        [role, ty, id] if !role.is_empty() && !ty.is_empty() && !id.is_empty() => Ok(Delta {
            role: (*role).to_owned(),
            subject_type: (*ty).to_owned(),
            subject_id: (*id).to_owned(),
        }),
        _ => Err(format!(
            "{s:?}: expected ROLE:SUBJECT_TYPE:SUBJECT_ID, e.g. billing.accounts.viewer:userAccount:ajeXXXX"
        )),
    }
}

fn parse_object(s: &str) -> Result<BillableObject, String> {
    match s.split_once(':') {
        Some((ty, id)) if !ty.is_empty() && !id.is_empty() => Ok(BillableObject::new(ty, id)),
        _ => Err(format!("{s:?}: expected TYPE:ID, e.g. cloud:b1gXXXX")),
    }
}

/// Every item from the request's page on, or one page when `--page-size`
/// or `--page-token` was given. Returns the items and the next page token.
pub(crate) async fn fetch<Req, T>(
    call: Call<Req, yc_billing::Page<T>>,
    page: PageArgs,
) -> anyhow::Result<(Vec<T>, String)>
where
    Req: PageRequest,
    T: Send + 'static,
{
    if page.page_size.is_none() && page.page_token.is_none() {
        let items = call
            .max_pages(page.max_pages)
            .stream()
            .try_collect()
            .await?;
        return Ok((items, String::new()));
    }
    let mut call = call;
    if let Some(size) = page.page_size {
        call = call.page_size(size);
    }
    if let Some(token) = page.page_token {
        call = call.page_token(token);
    }
    let page = call.await?;
    Ok((page.items, page.next_page_token))
}

/// Prints the operation with `--async`; otherwise waits and prints the response.
pub(crate) async fn run_operation<M, R>(
    global: &GlobalArgs,
    op: Operation<M, R>,
    wait_args: &WaitArgs,
    print_operation_when_done: bool,
) -> anyhow::Result<()>
where
    M: Message + Name + Default + 'static,
    R: Message + Name + Default + 'static,
{
    if wait_args.no_wait {
        return print(global.format, &json(op.raw())?);
    }
    let (raw, response) = wait(op, wait_args.wait_timeout).await?;
    if print_operation_when_done {
        print(global.format, &json(&raw)?)
    } else {
        print(global.format, &json(&response)?)
    }
}

/// Runs a `customers` subcommand.
pub async fn customers(
    client: &Client,
    global: &GlobalArgs,
    cmd: CustomersCmd,
) -> anyhow::Result<()> {
    let api = client.customers();
    match cmd {
        CustomersCmd::List { reseller_id, page } => {
            let (customers, next_page_token) = fetch(api.list(reseller_id), page).await?;
            let response = ListCustomersResponse {
                customers,
                next_page_token,
            };
            print(global.format, &json(&response)?)
        }
        CustomersCmd::Invite {
            reseller_id,
            name,
            email,
            person,
            wait,
        } => {
            let person = person.person(&name, Some(&email))?;
            let op = api.invite(reseller_id, name, email, person).await?;
            run_operation(global, op, &wait, false).await
        }
        CustomersCmd::CreateResellerServed {
            reseller_id,
            name,
            person,
            wait,
        } => {
            let person = person.person(&name, None)?;
            let op = api
                .create_reseller_served(reseller_id, name, person)
                .await?;
            run_operation(global, op, &wait, false).await
        }
        CustomersCmd::Activate { customer_id, wait } => {
            let op = api.activate(customer_id).await?;
            run_operation(global, op, &wait, false).await
        }
        CustomersCmd::Suspend { customer_id, wait } => {
            let op = api.suspend(customer_id).await?;
            run_operation(global, op, &wait, false).await
        }
    }
}

/// Runs an `accounts` subcommand.
pub async fn accounts(
    client: &Client,
    global: &GlobalArgs,
    cmd: AccountsCmd,
) -> anyhow::Result<()> {
    let api = client.billing_accounts();
    match cmd {
        AccountsCmd::Get { id } => print(global.format, &json(&api.get(id).await?)?),
        AccountsCmd::List { page } => {
            let (billing_accounts, next_page_token) = fetch(api.list(), page).await?;
            let response = ListBillingAccountsResponse {
                billing_accounts,
                next_page_token,
            };
            print(global.format, &json(&response)?)
        }
        AccountsCmd::Bindings(BindingsCmd::List {
            billing_account_id,
            page,
        }) => {
            let (billable_object_bindings, next_page_token) =
                fetch(api.list_billable_object_bindings(billing_account_id), page).await?;
            let response = ListBillableObjectBindingsResponse {
                billable_object_bindings,
                next_page_token,
            };
            print(global.format, &json(&response)?)
        }
        AccountsCmd::Bindings(BindingsCmd::Bind {
            billing_account_id,
            cloud_id,
            object,
            wait,
        }) => {
            let object = match (cloud_id, object) {
                (Some(cloud), _) => BillableObject::cloud(cloud),
                (None, Some(object)) => object,
                (None, None) => unreachable!("clap requires --cloud-id or --object"),
            };
            let op = api.bind_billable_object(billing_account_id, object).await?;
            run_operation(global, op, &wait, false).await
        }
        AccountsCmd::Access(AccessCmd::List {
            billing_account_id,
            page,
        }) => {
            let (access_bindings, next_page_token) =
                fetch(api.list_access_bindings(billing_account_id), page).await?;
            let response = ListAccessBindingsResponse {
                access_bindings,
                next_page_token,
            };
            print(global.format, &json(&response)?)
        }
        AccountsCmd::Access(AccessCmd::Update {
            billing_account_id,
            add,
            remove,
            wait,
        }) => {
            let mut call = api.update_access_bindings(billing_account_id);
            for (action, deltas) in [
                (AccessBindingAction::Add, add),
                (AccessBindingAction::Remove, remove),
            ] {
                for d in deltas {
                    call = call.delta(action, d.role, d.subject_type, d.subject_id);
                }
            }
            let op = call.await?;
            run_operation(global, op, &wait, true).await
        }
    }
}

/// Runs an `operations` subcommand.
pub async fn operations(
    client: &Client,
    global: &GlobalArgs,
    cmd: OperationsCmd,
) -> anyhow::Result<()> {
    let api = client.operations();
    match cmd {
        // A malformed operation (done with neither error nor response, or
        // unfinished without an id) is an error, as for the typed commands.
        OperationsCmd::Get { id } => {
            let raw = api.get(id).await?;
            check_operation(&raw)?;
            print(global.format, &json(&raw)?)
        }
        OperationsCmd::Cancel { id } => {
            let raw = api.cancel(id).await?;
            check_operation(&raw)?;
            print(global.format, &json(&raw)?)
        }
        OperationsCmd::Wait { id, wait_timeout } => {
            // The types are unknown here: wait on the raw message and print it whole.
            let raw = wait_done(RawOperation::resume(client, id).await?, wait_timeout).await?;
            check_operation(&raw)?;
            print(global.format, &json(&raw)?)?;
            // A failed operation is printed, then exits with its error.
            if let Some(Err(e)) = outcome(&raw) {
                return Err(e.into());
            }
            Ok(())
        }
    }
}
