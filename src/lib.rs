//! Client for the Yandex Cloud Billing API over gRPC.
#![warn(missing_docs)]

pub mod error;
pub mod proto;
pub mod region;

pub use error::{AuthError, CredentialSource, Error, OperationError, Result, RpcError};
