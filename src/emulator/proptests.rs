//! Property tests of the emulator's input handling (see RELIABILITY.md):
//! page tokens, validation rules and request validation on arbitrary input.
//!
//! 256 cases per property in `cargo test`; a dedicated run sets
//! `PROPTEST_CASES` (for example 100000, in release).

use proptest::prelude::*;

use super::paging::PageTokens;
use super::validation::{Range, Validator};
use crate::proto::yandex::cloud::access::{
    BindAccessPolicyRequest, ListAccessBindingsRequest, ListAccessPolicyBindingsRequest,
    SetAccessBindingsRequest, UnbindAccessPolicyRequest, UpdateAccessBindingsRequest,
    UpdateAccessPolicyBindingParametersRequest,
};
use crate::proto::yandex::cloud::billing::v1::{
    ActivateCustomerRequest, BindBillableObjectRequest, CreateBudgetRequest,
    CreateResellerServedCustomerRequest, GetBillingAccountRequest, GetBudgetRequest,
    GetServiceRequest, GetSkuRequest, InviteCustomerRequest, ListBillableObjectBindingsRequest,
    ListBillingAccountsRequest, ListBudgetsRequest, ListCustomersRequest, ListServicesRequest,
    ListSkusRequest, SuspendCustomerRequest,
};
use crate::proto::yandex::cloud::endpoint::{GetApiEndpointRequest, ListApiEndpointsRequest};
use crate::proto::yandex::cloud::iam::v1::{
    CreateIamTokenForServiceAccountRequest, CreateIamTokenRequest, RevokeIamTokenRequest,
};
use crate::proto::yandex::cloud::operation::{CancelOperationRequest, GetOperationRequest};

fn validator() -> &'static Validator {
    Validator::shared()
}

/// Decodes `bytes` as `T` the way tonic does for a request, then validates it.
fn decode_and_validate<T: prost::Message + prost::Name + Default>(bytes: &[u8]) {
    if let Ok(msg) = T::decode(bytes) {
        let _ = validator().validate(&msg);
    }
}

macro_rules! all_requests {
    ($bytes:expr, $($t:ty),* $(,)?) => {$(
        decode_and_validate::<$t>($bytes);
    )*};
}

fn validate_all(bytes: &[u8]) {
    all_requests!(
        bytes,
        ListCustomersRequest,
        InviteCustomerRequest,
        CreateResellerServedCustomerRequest,
        ActivateCustomerRequest,
        SuspendCustomerRequest,
        GetBillingAccountRequest,
        ListBillingAccountsRequest,
        ListBillableObjectBindingsRequest,
        BindBillableObjectRequest,
        CreateBudgetRequest,
        GetBudgetRequest,
        ListBudgetsRequest,
        GetServiceRequest,
        ListServicesRequest,
        GetSkuRequest,
        ListSkusRequest,
        ListAccessBindingsRequest,
        SetAccessBindingsRequest,
        UpdateAccessBindingsRequest,
        BindAccessPolicyRequest,
        UnbindAccessPolicyRequest,
        ListAccessPolicyBindingsRequest,
        UpdateAccessPolicyBindingParametersRequest,
        GetOperationRequest,
        CancelOperationRequest,
        CreateIamTokenRequest,
        CreateIamTokenForServiceAccountRequest,
        RevokeIamTokenRequest,
        GetApiEndpointRequest,
        ListApiEndpointsRequest,
    );
}

/// Protobuf-shaped bytes: a run of fields with random tags, wire types and
/// payloads, so that more inputs decode than with uniform random bytes.
fn protobuf_like() -> impl Strategy<Value = Vec<u8>> {
    let field = (
        1u32..40,
        prop_oneof![
            any::<u64>().prop_map(|v| (0u8, {
                let mut b = Vec::new();
                prost::encoding::encode_varint(v, &mut b);
                b
            })),
            prop::collection::vec(any::<u8>(), 0..64).prop_map(|p| (2u8, {
                let mut b = Vec::new();
                prost::encoding::encode_varint(p.len() as u64, &mut b);
                b.extend(p);
                b
            })),
            // A nested message of nested fields.
            prop::collection::vec((1u32..10, ".{0,16}"), 0..4).prop_map(|fs| (2u8, {
                let mut inner = Vec::new();
                for (tag, s) in fs {
                    prost::encoding::encode_varint(u64::from(tag << 3 | 2), &mut inner);
                    prost::encoding::encode_varint(s.len() as u64, &mut inner);
                    inner.extend(s.as_bytes());
                }
                let mut b = Vec::new();
                prost::encoding::encode_varint(inner.len() as u64, &mut b);
                b.extend(inner);
                b
            })),
            any::<u64>().prop_map(|v| (1u8, v.to_le_bytes().to_vec())),
            any::<u32>().prop_map(|v| (5u8, v.to_le_bytes().to_vec())),
        ],
    );
    prop::collection::vec(field, 0..8).prop_map(|fields| {
        let mut out = Vec::new();
        for (tag, (wire, payload)) in fields {
            prost::encoding::encode_varint(u64::from(tag << 3 | u32::from(wire)), &mut out);
            out.extend(payload);
        }
        out
    })
}

proptest! {
    #[test]
    fn range_rules_parse_without_panics(rule in prop_oneof![
        ".{0,12}",
        "[<>=-]{0,2}-?[0-9]{0,40}(-[0-9]{0,40})?",
    ]) {
        if let Some(r) = Range::parse(&rule) {
            let _ = (r.contains(0), r.contains(i128::MAX), r.contains(i128::MIN));
        }
    }

    #[test]
    fn validation_never_panics_on_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        validate_all(&bytes);
    }

    #[test]
    fn validation_never_panics_on_protobuf_like_bytes(bytes in protobuf_like()) {
        validate_all(&bytes);
    }

    #[test]
    fn structured_requests_validate_without_panics(
        a in ".{0,80}",
        b in ".{0,80}",
        n in any::<i64>(),
        emails in ".{0,40}@.{0,40}",
    ) {
        let v = validator();
        let _ = v.validate(&ListCustomersRequest { reseller_id: a.clone(), page_size: n, page_token: b.clone() });
        let _ = v.validate(&InviteCustomerRequest {
            reseller_id: a.clone(),
            name: b.clone(),
            invitation_email: emails,
            person: None,
        });
        let _ = v.validate(&ActivateCustomerRequest { customer_id: a.clone() });
        let _ = v.validate(&GetOperationRequest { operation_id: b.clone() });
        let _ = v.validate(&ListBillingAccountsRequest { page_size: n, page_token: a });
        let _ = v.operation_types(&b);
    }

    #[test]
    fn page_tokens_from_arbitrary_text_are_refused(token in ".{0,64}", offset in 0usize..100_000) {
        let pages = PageTokens::new();
        let genuine = pages.encode("customers/r1", offset);
        if token != genuine {
            prop_assert!(pages.decode("customers/r1", &token).is_err(), "{token:?} accepted");
        }
    }

    #[test]
    fn page_tokens_accept_only_the_genuine_token(
        offset in 0usize..1_000_000,
        at in any::<prop::sample::Index>(),
        len in 0usize..4,
        with in "[0-9A-Za-z_.+-]{0,3}",
    ) {
        let pages = PageTokens::new();
        let genuine = pages.encode("customers/r1", offset);
        prop_assert_eq!(pages.decode("customers/r1", &genuine).ok(), Some(offset));
        // Issued for another list, or by another emulator: refused.
        prop_assert!(pages.decode("customers/r2", &genuine).is_err());
        prop_assert!(PageTokens::new().decode("customers/r1", &genuine).is_err());
        // Any edit of the text is refused.
        let i = at.index(genuine.len() + 1);
        let j = (i + len).min(genuine.len());
        let edited = format!("{}{}{}", &genuine[..i], with, &genuine[j..]);
        if edited != genuine {
            prop_assert!(
                pages.decode("customers/r1", &edited).is_err(),
                "{edited:?} accepted for {genuine:?}"
            );
        }
        // Paging with any token never panics and never starts past the end.
        let items: Vec<usize> = (0..50).collect();
        if let Ok((page, next)) = pages.page(&items, "customers/r1", 10, &edited) {
            prop_assert!(page.len() <= 10);
            prop_assert!(next.is_empty() || pages.decode("customers/r1", &next).is_ok());
        }
    }
}
