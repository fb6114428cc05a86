//! Client for the Yandex Cloud Billing API over gRPC.
#![warn(missing_docs)]

#[cfg(feature = "emulator")]
pub mod emulator;
pub mod proto;
