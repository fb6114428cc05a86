//! Calls of any row of the method table with messages built at run time
//! (feature `json`): what `yc-billing call` uses.

use prost::Message;
use prost_reflect::{DynamicMessage, MessageDescriptor};
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

use super::Call;
use crate::call::CallOptions;
use crate::client::Client;
use crate::error::{Error, Result};
use crate::proto::MethodInfo;
use crate::transport::Transport;

/// The request of a [`Client::call_dynamic`]: the method's row and the
/// request message, of the row's request type.
#[derive(Debug, Clone)]
pub struct DynamicRequest {
    /// The method to call.
    pub method: &'static MethodInfo,
    /// The request message.
    pub message: DynamicMessage,
}

impl DynamicRequest {
    /// A request of `method` from its proto3 JSON (the REST API's shapes).
    ///
    /// # Errors
    ///
    /// [`Error::UnexpectedType`] when the schema has no such request type;
    /// [`Error::Config`] (field `request`) naming the problem when the JSON
    /// is not a request of it.
    pub fn from_json(method: &'static MethodInfo, json: &str) -> Result<Self> {
        let descriptor = descriptor(method.request)?;
        let mut de = serde_json::Deserializer::from_str(json);
        let message = DynamicMessage::deserialize(descriptor, &mut de)
            .and_then(|m| de.end().map(|()| m))
            .map_err(|e| {
                Error::config(
                    "request",
                    format!("not a {} in proto3 JSON: {e}", method.request),
                )
            })?;
        Ok(DynamicRequest { method, message })
    }
}

fn descriptor(name: &str) -> Result<MessageDescriptor> {
    crate::json::descriptor_pool()
        .get_message_by_name(name)
        .ok_or_else(|| Error::UnexpectedType {
            expected: "a message of the Billing schema".into(),
            actual: name.to_owned(),
        })
}

impl Client {
    /// Any row of [`METHODS`](crate::proto::METHODS) with a request built at
    /// run time; resolves to the response message, undecoded into Rust types
    /// (see [`json::dynamic_to_value`](crate::json::dynamic_to_value)). For
    /// typed calls use [`Client::call`].
    ///
    /// ```no_run
    /// # async fn f(client: yc_billing::Client) -> yc_billing::Result<()> {
    /// use yc_billing::proto::{method, paths};
    /// use yc_billing::services::DynamicRequest;
    ///
    /// let get = method(paths::billing::v1::billing_account_service::GET).unwrap();
    /// let request = DynamicRequest::from_json(get, r#"{"id": "ba-id"}"#)?;
    /// let account = client.call_dynamic(request).await?;
    /// println!("{}", yc_billing::json::dynamic_to_value(&account)?);
    /// # Ok(()) }
    /// ```
    pub fn call_dynamic(&self, request: DynamicRequest) -> Call<DynamicRequest, DynamicMessage> {
        Call::new(
            self.clone(),
            request.method.path,
            request,
            |client, r, options| Box::pin(async move { send(&client, r, &options).await }),
        )
    }
}

async fn send(
    client: &Client,
    request: DynamicRequest,
    options: &CallOptions,
) -> Result<DynamicMessage> {
    let method = request.method;
    let response = descriptor(method.response)?;
    let transport = client.transport_for(method.endpoint)?;
    let reply = client
        .execute(method.path, request.message, options, |r| {
            attempt(
                tonic::client::Grpc::new(transport.clone())
                    .max_decoding_message_size(client.max_response_size()),
                r,
                method,
                response.clone(),
            )
        })
        .await?;
    Ok(reply.into_inner())
}

async fn attempt(
    mut grpc: tonic::client::Grpc<Transport>,
    mut request: tonic::Request<DynamicMessage>,
    method: &'static MethodInfo,
    response: MessageDescriptor,
) -> std::result::Result<tonic::Response<DynamicMessage>, Status> {
    let path = super::ready(&mut grpc, &mut request, method).await?;
    grpc.unary(request, path, DynamicCodec(response)).await
}

/// Encodes any message, decodes messages of one type.
struct DynamicCodec(MessageDescriptor);

impl Codec for DynamicCodec {
    type Encode = DynamicMessage;
    type Decode = DynamicMessage;
    type Encoder = DynamicEncoder;
    type Decoder = DynamicDecoder;

    fn encoder(&mut self) -> DynamicEncoder {
        DynamicEncoder
    }

    fn decoder(&mut self) -> DynamicDecoder {
        DynamicDecoder(self.0.clone())
    }
}

struct DynamicEncoder;

impl Encoder for DynamicEncoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn buffer_settings(&self) -> tonic::codec::BufferSettings {
        crate::transport::codec::buffer_settings()
    }

    fn encode(
        &mut self,
        item: DynamicMessage,
        dst: &mut EncodeBuf<'_>,
    ) -> std::result::Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("cannot encode the request: {e}")))
    }
}

struct DynamicDecoder(MessageDescriptor);

impl Decoder for DynamicDecoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn buffer_settings(&self) -> tonic::codec::BufferSettings {
        crate::transport::codec::buffer_settings()
    }

    fn decode(
        &mut self,
        src: &mut DecodeBuf<'_>,
    ) -> std::result::Result<Option<DynamicMessage>, Status> {
        DynamicMessage::decode(self.0.clone(), src)
            .map(Some)
            .map_err(|e| Status::internal(format!("cannot decode the response: {e}")))
    }
}
