//! Generated protobuf messages and gRPC stubs, one module per proto package.
//!
//! The tree mirrors the packages in `proto/`: for example
//! [`yandex::cloud::billing::v1`] holds the Billing messages and
//! `customer_service_client::CustomerServiceClient`. Server traits are
//! generated only with the `emulator` feature. `google.rpc` types come from
//! [`tonic_types::pb`]; well-known types from [`prost_types`].
#![allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    rustdoc::all,
    unreachable_pub,
    unused_qualifications
)]

include!(concat!(env!("OUT_DIR"), "/_includes.rs"));

/// The encoded `FileDescriptorSet` of every file in `proto/`, custom options
/// included (validation rules, `yandex.cloud.api.operation`, `google.api.http`).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/yc_billing_descriptor.bin"));
