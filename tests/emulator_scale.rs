//! The emulator at scale (over real TCP): the work of `Get` and of one page
//! of `List` does not grow with the number of accounts and customers, many
//! concurrent callers at 20,000 customers all meet a 10 s deadline, and the
//! indexes behind `List` agree with the per-account permission checks of
//! `Get` across reseller chains, cycles, binding changes and new customers.

mod emulator_support;

use std::collections::BTreeSet;
use std::time::Duration;

use emulator_support::*;
use tonic::Code;
use yc_billing::emulator::{
    CustomerStatus, DEFAULT_RESELLER_ID, DEFAULT_SERVICE_ACCOUNT_ID, DEFAULT_SUBJECT_ID, Emulator,
    EmulatorHandle, NO_RIGHTS_IAM_TOKEN, Seed, SeedAccessBinding, SeedBillingAccount, SeedCustomer,
};
use yc_billing::proto::yandex::cloud::access::{
    AccessBinding, AccessBindingAction, AccessBindingDelta, Subject, UpdateAccessBindingsRequest,
};
use yc_billing::proto::yandex::cloud::billing::v1::*;

const CUSTOMERS: usize = 20_000;
/// Most records one page of 100 may examine: each item once in an index and
/// once read, plus a few lookups (the old code examined n²/2: 200,130,017
/// for an empty page at 20,000 customers).
const PAGE_WORK: u64 = 2 * 100 + 16;

/// The default seed plus `n` active customers of the default reseller.
fn seed_with_customers(n: usize) -> Seed {
    let mut seed = Seed::default();
    seed.customers.extend((0..n).map(|i| SeedCustomer {
        id: format!("scalecust{i:011}"),
        reseller_id: DEFAULT_RESELLER_ID.into(),
        billing_account_id: format!("scaleacct{i:011}"),
        name: format!("scale customer {i}"),
        status: CustomerStatus::Active,
        invitation_email: None,
        person: CustomerPerson::default(),
    }));
    seed
}

async fn start(seed: Seed) -> EmulatorHandle {
    Emulator::builder()
        .seed(seed)
        .operation_delay(Duration::from_millis(1))
        .metadata_server(false)
        .start()
        .await
        .unwrap()
}

fn list_accounts(size: i64, token: &str) -> ListBillingAccountsRequest {
    ListBillingAccountsRequest {
        page_size: size,
        page_token: token.into(),
    }
}

/// Records one call examined: the difference of the handle's counter.
async fn examined<T, F: std::future::Future<Output = T>>(
    emu: &EmulatorHandle,
    call: F,
) -> (T, u64) {
    let before = emu.records_examined();
    let out = call.await;
    (out, emu.records_examined() - before)
}

#[tokio::test]
async fn list_and_get_work_follows_the_page_not_the_state() {
    let emu = start(seed_with_customers(CUSTOMERS)).await;
    let mut owner_accounts = accounts(&emu, owner(&emu)).await;
    let mut nobody_accounts = accounts(&emu, Auth::bearer(NO_RIGHTS_IAM_TOKEN)).await;
    let mut owner_customers = customers(&emu, owner(&emu)).await;

    // A caller who sees nothing: an empty page, and next to no work.
    let (page, work) = examined(&emu, nobody_accounts.list(list_accounts(1, ""))).await;
    let page = page.unwrap().into_inner();
    assert!(page.billing_accounts.is_empty() && page.next_page_token.is_empty());
    assert!(work <= 16, "an empty List examined {work} records");

    // Get of one customer account.
    let id = format!("scaleacct{:011}", CUSTOMERS / 2);
    let (got, work) = examined(
        &emu,
        owner_accounts.get(GetBillingAccountRequest { id: id.clone() }),
    )
    .await;
    assert_eq!(got.unwrap().into_inner().id, id);
    assert!(work <= 16, "Get examined {work} records");

    // The owner's first page and a page from the middle of the list.
    let (first, work) = examined(&emu, owner_accounts.list(list_accounts(100, ""))).await;
    let first = first.unwrap().into_inner();
    assert_eq!(first.billing_accounts.len(), 100);
    assert!(
        work <= PAGE_WORK,
        "a page of 100 accounts examined {work} records"
    );
    let mut token = first.next_page_token;
    for _ in 0..3 {
        let (page, work) = examined(&emu, owner_accounts.list(list_accounts(100, &token))).await;
        let page = page.unwrap().into_inner();
        assert_eq!(page.billing_accounts.len(), 100);
        assert!(
            work <= PAGE_WORK,
            "a later page of 100 examined {work} records"
        );
        token = page.next_page_token;
    }

    // The same for the reseller's customers.
    let req = |token: &str| ListCustomersRequest {
        reseller_id: DEFAULT_RESELLER_ID.into(),
        page_size: 100,
        page_token: token.into(),
    };
    let (first, work) = examined(&emu, owner_customers.list(req(""))).await;
    let first = first.unwrap().into_inner();
    assert_eq!(first.customers.len(), 100);
    assert!(
        work <= PAGE_WORK,
        "a page of 100 customers examined {work} records"
    );
    let (second, work) = examined(&emu, owner_customers.list(req(&first.next_page_token))).await;
    assert_eq!(second.unwrap().into_inner().customers.len(), 100);
    assert!(
        work <= PAGE_WORK,
        "a later page of customers examined {work} records"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn concurrent_callers_at_20000_customers_meet_a_10s_deadline() {
    let emu = start(seed_with_customers(CUSTOMERS)).await;
    let deadline = Duration::from_secs(10);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..48 {
        let auth = if i % 3 == 0 {
            Auth::bearer(NO_RIGHTS_IAM_TOKEN)
        } else {
            owner(&emu)
        };
        let mut client = accounts(&emu, auth).await;
        let id = format!("scaleacct{:011}", i * 397);
        tasks.spawn(async move {
            let mut codes = Vec::new();
            for round in 0..4 {
                let call = async {
                    match (i + round) % 3 {
                        0 => client.list(list_accounts(1, "")).await.map(|_| ()),
                        1 => client.list(list_accounts(100, "")).await.map(|_| ()),
                        _ => client
                            .get(GetBillingAccountRequest { id: id.clone() })
                            .await
                            .map(|_| ()),
                    }
                };
                let code = match tokio::time::timeout(deadline, call).await {
                    Err(_) => Code::DeadlineExceeded,
                    Ok(Err(status)) => status.code(),
                    Ok(Ok(())) => Code::Ok,
                };
                codes.push(code);
            }
            (i, codes)
        });
    }
    let mut late = 0;
    while let Some(done) = tasks.join_next().await {
        let (i, codes) = done.unwrap();
        for code in codes {
            late += usize::from(code == Code::DeadlineExceeded);
            // The rights-less caller may be refused a Get, never slowed down.
            assert!(
                code == Code::Ok || (i % 3 == 0 && code == Code::PermissionDenied),
                "caller {i}: {code:?}"
            );
        }
    }
    assert_eq!(late, 0, "calls past the 10 s deadline");
    emu.shutdown().await;
}

/// Every billing account id in the handle's order.
fn all_ids(emu: &EmulatorHandle) -> Vec<String> {
    emu.billing_accounts().into_iter().map(|a| a.id).collect()
}

/// What `List` returns to `auth`, page by page (`size` per page).
async fn listed(emu: &EmulatorHandle, auth: Auth, size: i64) -> Vec<String> {
    let mut client = accounts(emu, auth).await;
    let mut out = Vec::new();
    let mut token = String::new();
    for _ in 0..10_000 {
        let page = client
            .list(list_accounts(size, &token))
            .await
            .unwrap()
            .into_inner();
        assert!(page.billing_accounts.len() <= size as usize);
        out.extend(page.billing_accounts.into_iter().map(|a| a.id));
        if page.next_page_token.is_empty() {
            return out;
        }
        token = page.next_page_token;
    }
    panic!("List did not end");
}

/// The accounts `auth` may `Get`, in the handle's order.
async fn gettable(emu: &EmulatorHandle, auth: Auth) -> Vec<String> {
    let mut client = accounts(emu, auth).await;
    let mut out = Vec::new();
    for id in all_ids(emu) {
        match client
            .get(GetBillingAccountRequest { id: id.clone() })
            .await
        {
            Ok(a) => {
                assert_eq!(a.into_inner().id, id);
                out.push(id);
            }
            Err(s) => assert_eq!(s.code(), Code::PermissionDenied, "{id}: {}", s.message()),
        }
    }
    out
}

async fn assert_list_matches_get(emu: &EmulatorHandle, subjects: &[(&str, Auth)]) {
    for (name, auth) in subjects {
        let allowed = gettable(emu, auth.clone()).await;
        for size in [1, 3, 1000] {
            let listed = listed(emu, auth.clone(), size).await;
            assert_eq!(listed, allowed, "{name}, page size {size}");
        }
        let unique: BTreeSet<_> = allowed.iter().collect();
        assert_eq!(unique.len(), allowed.len(), "{name}: no account twice");
    }
}

#[tokio::test]
async fn account_list_agrees_with_get_across_chains_cycles_and_changes() {
    const USER: &str = "ajeemu0scaleuser0001";
    let mut seed = Seed::default();
    let account = |id: &str, reseller: Option<&str>| SeedBillingAccount {
        id: id.into(),
        name: id.into(),
        reseller_id: reseller.map(str::to_string),
        ..SeedBillingAccount::default()
    };
    let binding = |account: &str, role: &str, subject: &str| SeedAccessBinding {
        billing_account_id: account.into(),
        role_id: role.into(),
        subject_id: subject.into(),
        subject_type: "userAccount".into(),
    };
    // A chain of six below the default reseller (seen three levels down),
    // a cycle of two, a reseller named before its own reseller exists in the
    // seed, and accounts nobody is bound to.
    let mut parent = DEFAULT_RESELLER_ID.to_string();
    for n in 1..=6 {
        let id = format!("dn2scalechain0000{n:03}");
        seed.billing_accounts.push(account(&id, Some(&parent)));
        parent = id;
    }
    seed.billing_accounts.extend([
        account("dn2scalecycle0000001", Some("dn2scalecycle0000002")),
        account("dn2scalecycle0000002", Some("dn2scalecycle0000001")),
        account("dn2scalelate00000001", Some("dn2scalelate00000002")),
        account("dn2scalelate00000002", None),
        account("dn2scaleorphan000001", Some("dn2scalemissing00001")),
        account("dn2scalealone0000001", None),
    ]);
    seed.customers.push(SeedCustomer {
        id: "scalecustchain000001".into(),
        reseller_id: "dn2scalechain0000002".into(),
        billing_account_id: "dn2scalechaincust001".into(),
        name: "chain customer".into(),
        status: CustomerStatus::Active,
        invitation_email: None,
        person: CustomerPerson::default(),
    });
    seed.access_bindings.extend([
        binding("dn2scalechain0000002", "billing.accounts.viewer", USER),
        binding("dn2scalechain0000002", "billing.accounts.admin", USER),
        binding("dn2scalecycle0000001", "billing.accounts.viewer", USER),
        binding("dn2scalelate00000002", "billing.accounts.viewer", USER),
        binding(
            "dn2scalealone0000001",
            "billing.accounts.owner",
            DEFAULT_SUBJECT_ID,
        ),
    ]);
    let emu = start(seed).await;
    let user = Auth::bearer(&emu.issue_iam_token(USER, Duration::from_secs(3600)));
    let sa =
        Auth::bearer(&emu.issue_iam_token(DEFAULT_SERVICE_ACCOUNT_ID, Duration::from_secs(3600)));
    let subjects = [
        ("owner", owner(&emu)),
        ("user", user.clone()),
        ("service account", sa),
        ("nobody", Auth::bearer(NO_RIGHTS_IAM_TOKEN)),
    ];
    assert_list_matches_get(&emu, &subjects).await;
    let user_sees = listed(&emu, user.clone(), 1000).await;
    assert!(user_sees.contains(&"dn2scalechain0000005".to_string()));
    assert!(
        !user_sees.contains(&"dn2scalechain0000006".to_string()),
        "four levels down"
    );
    assert!(user_sees.contains(&"dn2scalelate00000001".to_string()));

    // Binding changes: the user loses one of two roles on chain 2 (still
    // sees it), then the other; gains a role on chain 4 and the reseller.
    let mut admin = accounts(&emu, owner(&emu)).await;
    let mut ops = operations(&emu, owner(&emu)).await;
    let delta = |action: AccessBindingAction, role: &str| AccessBindingDelta {
        action: action as i32,
        access_binding: Some(AccessBinding {
            role_id: role.into(),
            subject: Some(Subject {
                id: USER.into(),
                r#type: "userAccount".into(),
            }),
        }),
    };
    let steps = [
        (
            "dn2scalechain0000002",
            vec![delta(
                AccessBindingAction::Remove,
                "billing.accounts.viewer",
            )],
        ),
        (
            "dn2scalechain0000002",
            vec![delta(AccessBindingAction::Remove, "billing.accounts.admin")],
        ),
        (
            "dn2scalechain0000002",
            vec![delta(AccessBindingAction::Remove, "billing.accounts.admin")],
        ),
        (
            "dn2scalechain0000003",
            vec![delta(AccessBindingAction::Add, "billing.accounts.viewer")],
        ),
        (
            DEFAULT_RESELLER_ID,
            vec![delta(AccessBindingAction::Add, "billing.accounts.editor")],
        ),
    ];
    for (step, (resource, deltas)) in steps.into_iter().enumerate() {
        let op = admin
            .update_access_bindings(UpdateAccessBindingsRequest {
                resource_id: resource.into(),
                access_binding_deltas: deltas,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(wait(&mut ops, op).await.error().is_none());
        assert_list_matches_get(&emu, &subjects[..2]).await;
        if step == 1 {
            let sees = listed(&emu, user.clone(), 1000).await;
            assert!(
                !sees.contains(&"dn2scalechain0000002".to_string()),
                "both roles gone"
            );
        }
    }

    // A new customer of a chain account appears to everyone above it.
    let mut c = customers(&emu, owner(&emu)).await;
    let op = c
        .create_reseller_served(CreateResellerServedCustomerRequest {
            reseller_id: "dn2scalechain0000001".into(),
            name: "late customer".into(),
            person: Some(CustomerPerson {
                name: "Late".into(),
                longname: "Late LLC".into(),
                email: "late@example.com".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(wait(&mut ops, op).await.error().is_none());
    assert_eq!(all_ids(&emu).len(), 1 + 6 + 6 + 3 + 1 + 1);
    assert_list_matches_get(&emu, &subjects).await;
    emu.shutdown().await;
}

/// The error of a done operation, if any.
trait OpError {
    fn error(&self) -> Option<&tonic_types::pb::Status>;
}

impl OpError for yc_billing::proto::yandex::cloud::operation::Operation {
    fn error(&self) -> Option<&tonic_types::pb::Status> {
        match &self.result {
            Some(yc_billing::proto::yandex::cloud::operation::operation::Result::Error(e)) => {
                Some(e)
            }
            _ => None,
        }
    }
}
