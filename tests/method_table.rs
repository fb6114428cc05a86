//! The generated method table (`yc_billing::proto::METHODS`) against the
//! schema it was generated from, and the emulator against the table.
#![cfg(feature = "emulator")]

mod emulator_support;

use std::collections::BTreeSet;

use http::uri::PathAndQuery;
use prost_reflect::DescriptorPool;
use tonic::Code;
use yc_billing::emulator::Emulator;
use yc_billing::proto::{FILE_DESCRIPTOR_SET, METHODS, method};

fn pool() -> DescriptorPool {
    DescriptorPool::decode(FILE_DESCRIPTOR_SET).expect("embedded descriptor set decodes")
}

/// Every method of every service in `proto/` has its row, with the schema's
/// names and types, and the table has no other row.
#[test]
fn every_service_in_proto_is_in_the_table() {
    let pool = pool();
    let mut seen = BTreeSet::new();
    for service in pool.services() {
        let mut rows = 0;
        for m in service.methods() {
            let path = format!("/{}/{}", service.full_name(), m.name());
            let row = method(&path).unwrap_or_else(|| panic!("{path} is not in the table"));
            assert_eq!(row.path, path);
            assert_eq!(row.service, service.full_name(), "{path}");
            assert_eq!(row.method, m.name(), "{path}");
            assert_eq!(row.request, m.input().full_name(), "{path}");
            assert_eq!(row.response, m.output().full_name(), "{path}");
            seen.insert(path);
            rows += 1;
        }
        assert!(rows > 0, "{} has no rows", service.full_name());
    }
    assert_eq!(
        seen.len(),
        METHODS.len(),
        "the table has rows not in proto/"
    );
    // The services without wrappers are there too.
    for service in [
        "yandex.cloud.billing.v1.BudgetService",
        "yandex.cloud.billing.v1.SkuService",
        "yandex.cloud.billing.v1.ServiceService",
        "yandex.cloud.billing.usage_records.v1.ConsumptionCoreService",
        "yandex.cloud.billing.usage_records.v1.MetadataService",
    ] {
        assert!(
            METHODS.iter().any(|m| m.service == service),
            "{service} missing"
        );
    }
    // Sorted by path, as `method` (a binary search) needs.
    assert!(METHODS.windows(2).all(|w| w[0].path < w[1].path));
}

/// Every type a row names is a message of the schema.
#[test]
fn every_rows_types_exist() {
    let pool = pool();
    let exists =
        |name: &str| name == "google.protobuf.Empty" || pool.get_message_by_name(name).is_some();
    for m in METHODS {
        assert!(exists(m.request), "{}: {}", m.path, m.request);
        assert!(exists(m.response), "{}: {}", m.path, m.response);
        if let Some(op) = m.operation {
            assert_eq!(m.response, "yandex.cloud.operation.Operation", "{}", m.path);
            assert!(m.mutating, "{} starts an operation", m.path);
            assert!(
                op.metadata.is_empty() || exists(op.metadata),
                "{}: {}",
                m.path,
                op.metadata
            );
            assert!(exists(op.response), "{}: {}", m.path, op.response);
        } else {
            assert!(!m.mutating, "{} has no operation but is mutating", m.path);
        }
        if let Some((field, item)) = m.page {
            let response = pool.get_message_by_name(m.response).unwrap();
            let f = response.get_field_by_name(field).unwrap();
            assert!(f.is_list(), "{}: {field}", m.path);
            assert_eq!(f.kind().as_message().unwrap().full_name(), item);
        }
    }
    // The relative names of the option are resolved in the method's package.
    let bind = method("/yandex.cloud.billing.v1.BillingAccountService/UpdateAccessBindings")
        .and_then(|m| m.operation)
        .unwrap();
    assert_eq!(
        bind.metadata,
        "yandex.cloud.access.UpdateAccessBindingsMetadata"
    );
    assert_eq!(bind.response, "google.protobuf.Empty");
}

/// The one rule of authorization: only `IamTokenService.Create` and the
/// endpoint service are public.
#[test]
fn only_token_creation_and_discovery_are_public() {
    let public: Vec<&str> = METHODS
        .iter()
        .filter(|m| !m.needs_authorization)
        .map(|m| m.path)
        .collect();
    assert_eq!(
        public,
        [
            "/yandex.cloud.endpoint.ApiEndpointService/Get",
            "/yandex.cloud.endpoint.ApiEndpointService/List",
            "/yandex.cloud.iam.v1.IamTokenService/Create",
        ]
    );
    for m in METHODS {
        assert_eq!(
            yc_billing::transport::needs_authorization(m.path),
            m.needs_authorization
        );
        assert_eq!(yc_billing::transport::is_mutating(m.path), m.mutating);
    }
}

/// The emulator serves every row it claims: each method in
/// `served_methods()` is a row of the table, every row of a served service
/// is served, and a call of each with a default (empty) request gets an
/// answer other than UNIMPLEMENTED over loopback.
#[tokio::test]
async fn the_emulator_serves_every_row_it_claims() {
    let emu = Emulator::builder().start().await.unwrap();
    let served = emu.served_methods();
    let services: BTreeSet<&str> = served
        .iter()
        .map(|m| {
            method(m)
                .unwrap_or_else(|| panic!("{m} is not in the table"))
                .service
        })
        .collect();
    let claimed: Vec<String> = METHODS
        .iter()
        .filter(|m| services.contains(m.service))
        .map(|m| m.route().to_owned())
        .collect();
    assert_eq!(served, claimed, "a served service misses rows");
    assert!(services.len() >= 5, "{services:?}");

    let channel = emulator_support::channel(&emu).await;
    let token = format!("Bearer {}", emu.credentials().iam_token);
    for m in &served {
        let mut grpc = tonic::client::Grpc::new(channel.clone());
        grpc.ready().await.unwrap();
        let mut request = tonic::Request::new(());
        request
            .metadata_mut()
            .insert("authorization", token.parse().unwrap());
        // `()` encodes as an empty message: the default of every request
        // type; any answer decodes into it.
        let codec = tonic_prost::ProstCodec::<(), ()>::default();
        let path = PathAndQuery::from_maybe_shared(format!("/{m}")).unwrap();
        let code = match grpc.unary(request, path, codec).await {
            Ok(_) => Code::Ok,
            Err(status) => status.code(),
        };
        assert_ne!(code, Code::Unimplemented, "{m}");
        assert_eq!(emu.calls(m), 1, "{m} was not counted");
    }
}

/// The generated service handles send the same call as the markers: a
/// request built by the caller through `client.<service>().<method>_request`
/// answers what the ergonomic constructor of the same handle answers, and
/// the handle's `raw()` stub reaches the same server.
#[tokio::test]
async fn generated_handles_send_the_markers_call() -> anyhow::Result<()> {
    use yc_billing::proto::yandex::cloud::billing::v1::{
        GetBillingAccountRequest, ListCustomersRequest,
    };
    let emu = Emulator::builder().start().await?;
    let client = emulator_support::client_for(&emu).await?;
    let account = emu.billing_accounts()[0].id.clone();

    let by_handle = client
        .billing_account_service()
        .get_request(GetBillingAccountRequest {
            id: account.clone(),
        })
        .await?;
    let by_wrapper = client.billing_accounts().get(account.clone()).await?;
    assert_eq!(by_handle, by_wrapper);
    let get = &yc_billing::proto::paths::billing::v1::billing_account_service::GET[1..];
    assert_eq!(emu.calls(get), 2);

    let raw = client
        .billing_account_service()
        .raw()
        .get(GetBillingAccountRequest {
            id: account.clone(),
        })
        .await?
        .into_inner();
    assert_eq!(raw, by_handle);

    let reseller = yc_billing::emulator::DEFAULT_RESELLER_ID.to_owned();
    let page = client
        .customer_service()
        .list_request(ListCustomersRequest {
            reseller_id: reseller.clone(),
            page_size: 1,
            ..Default::default()
        })
        .await?;
    let wrapped = client.customers().list(reseller).page_size(1).await?;
    assert_eq!(page.items, wrapped.items);
    Ok(())
}
