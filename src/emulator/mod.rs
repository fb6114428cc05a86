//! An emulator of the Yandex Cloud Billing, Operation, IAM token and API
//! endpoint services, for integration tests and local development.
//!
//! [`Emulator::builder`] starts a real gRPC server on loopback (and, by
//! default, a VM metadata HTTP endpoint); the returned [`EmulatorHandle`]
//! reports the address and the seeded credentials, lets a test inspect the
//! state, inject faults and shut the server down.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use yc_billing::emulator::{Emulator, Faults, Seed};
//! let emu = Emulator::builder()
//!     .seed(Seed::default())
//!     .operation_delay(Duration::from_millis(50))
//!     .faults(Faults::default().latency(Duration::from_millis(1)))
//!     .start()
//!     .await?;
//! println!("{} {}", emu.endpoint(), emu.credentials().subject_id);
//! emu.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! The same services answer REST too (HTTP/1.1 and HTTP/2, JSON), at the
//! paths of the protos' `google.api.http` rules, from the same state and
//! through the same checks: see [`EmulatorBuilder::rest_listen`],
//! [`EmulatorHandle::rest_endpoint`] and [`rest_binding`].
//!
//! Behaviour in short: mutating calls return a pending
//! `Operation` that completes after [`EmulatorBuilder::operation_delay`] (or on
//! the N-th `OperationService.Get`); requests are validated with the rules in
//! the protos' `yandex.cloud.*` options; every call except
//! `IamTokenService.Create` and `ApiEndpointService` needs exactly one
//! `authorization: Bearer <IAM token>` header; responses carry `x-request-id`
//! and `x-server-trace-id`; mutating calls honour the `idempotency-key`
//! header, scoped to the calling subject and method.
//!
//! Control at run time, from Rust or over the admin HTTP API
//! ([`EmulatorBuilder::admin_listen`], JSON; the README lists the endpoints),
//! one implementation behind both: [`EmulatorHandle::reset`] back to the
//! seed, [`EmulatorHandle::state`] / [`EmulatorHandle::set_state`] (the state
//! as a [`Seed`], whose JSON Schema is [`Seed::json_schema`]),
//! [`EmulatorHandle::add_faults`] ([`Fault`], scoped by method),
//! [`EmulatorHandle::requests`] (the request journal, a bounded ring of
//! [`JournalEntry`]), [`EmulatorHandle::complete_operation`] /
//! [`EmulatorHandle::fail_operation`], and [`EmulatorHandle::advance_clock`]
//! under [`EmulatorBuilder::manual_clock`]. [`EmulatorBuilder::state_file`]
//! keeps the state across restarts.
//!
//! Access control: roles on billing accounts (and the reseller account
//! serving them) for the Billing services; `CreateForServiceAccount` needs
//! [`TOKEN_CREATOR_ROLE`] (or `editor`, `admin`) on the service account
//! ([`Seed::service_account_access_bindings`]); `Revoke` works for the
//! token's own subject or an `admin` of it, and answers anyone else like an
//! unknown token (`NOT_FOUND`); another subject's operation answers like a
//! missing one (`NOT_FOUND`).

mod admin;
mod auth;
mod builder;
pub mod catalogue;
pub(crate) mod conn;
mod faults;
mod handle;
mod journal;
mod layer;
mod metadata_http;
mod operations;
pub(crate) mod paging;
#[cfg(test)]
mod proptests;
mod rest;
mod seed;
mod serve;
pub(crate) mod services;
mod shared;
mod state;
mod text;
pub(crate) mod usage;
pub(crate) mod validation;

pub use admin::http::MAX_ADMIN_BODY;
pub use admin::{AdminError, ClockReading, MAX_CLOCK_ADVANCE};
pub use auth::{
    JWT_AUDIENCES, JWT_LEEWAY_SECS, MAX_JWT_LIFETIME_SECS, PRIVATE_KEY_PREFIX,
    ServiceAccountKeyFile,
};
pub use builder::{
    DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_KEEPALIVE_INTERVAL, DEFAULT_KEEPALIVE_TIMEOUT, Emulator,
    EmulatorBuilder, EmulatorError, MAX_CONCURRENT_STREAMS, MAX_REQUEST_BYTES,
};
pub use faults::{ActiveFault, Fault, Faults, MAX_LATENCY_MS, code_name, parse_code};
pub use handle::{EmulatorHandle, SeededCredentials};
pub use journal::{
    DEFAULT_JOURNAL_SIZE, JOURNAL_REQUEST_BYTES, JournalEntry, JournalPage, REDACTED, Transport,
};
pub use paging::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
pub use rest::rest_binding;
pub use seed::{
    CustomerStatus, DEFAULT_IAM_TOKEN, DEFAULT_OAUTH_TOKEN, DEFAULT_RESELLER_ID,
    DEFAULT_SERVICE_ACCOUNT_ID, DEFAULT_SUBJECT_ID, NO_RIGHTS_IAM_TOKEN, NO_RIGHTS_SUBJECT_ID,
    Seed, SeedAccessBinding, SeedBillableObjectBinding, SeedBillingAccount, SeedCustomer,
    SeedServiceAccountBinding, SeedServiceAccountKey, SeedToken, TOKEN_CREATOR_ROLE,
    example_person,
};
pub use state::CustomerRecord;
pub use text::{ECHO_CHARS, MAX_DESCRIPTION_CHARS, MAX_TEXT_CHARS};
pub use usage::report::MAX_REPORT_POINTS;
pub use usage::{CreditKind, SeedUsage, SeedUsageGenerator, SeedUsageRecord};

pub(crate) use shared::Shared;
