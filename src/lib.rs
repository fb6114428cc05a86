//! Client for the Yandex Cloud Billing API over gRPC.
#![warn(missing_docs)]

pub mod proto;
