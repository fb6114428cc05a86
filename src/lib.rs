//! Client for the Yandex Cloud Billing API over gRPC.
#![warn(missing_docs)]

pub mod auth;
pub mod call;
pub mod client;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
#[cfg(feature = "json")]
pub mod json;
pub mod money;
pub mod operation;
pub mod pagination;
pub mod proto;
mod quote;
pub mod region;
pub mod retry;
pub mod services;
pub mod time;
pub mod transport;

pub use auth::{AccessToken, Credentials, IamExchange, ServiceAccountKey, TokenCache, TokenSource};
pub use call::CallOptions;
pub use client::{Client, ClientBuilder};
pub use error::{
    AuthError, AuthErrorKind, CredentialSource, Error, OperationError, Result, RpcError,
    TransportError, TransportErrorKind,
};
pub use operation::{Operation, OperationState, PollingPolicy, RawOperation};
pub use pagination::Page;
pub use retry::{RetryBudget, RetryPolicy};

/// The README's Rust snippets, compiled as doctests.
#[cfg(all(doctest, feature = "emulator"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
