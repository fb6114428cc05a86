//! Client for the Yandex Cloud Billing API over gRPC.
#![warn(missing_docs)]

pub mod auth;
pub mod error;
pub mod proto;
pub mod region;

pub use auth::{AccessToken, Credentials, IamExchange, ServiceAccountKey, TokenCache, TokenSource};
pub use error::{AuthError, CredentialSource, Error, OperationError, Result, RpcError};
