//! The protobuf codec of every generated stub and server of the crate:
//! tonic's prost codec with small starting buffers.
//!
//! tonic starts each call's encode buffer and decode buffer at 8 KiB. The
//! messages of this API are mostly a few hundred bytes, and a call holds
//! its buffers for as long as it is in flight, so 10,000 operation polls in
//! flight held some 80 MiB of empty buffer (BENCHMARKS.md, goal 4). These
//! start at [`BUFFER_SIZE`] and grow as a message needs (a usage report of
//! megabytes grows its decode buffer as its frames arrive).

use std::marker::PhantomData;

use prost::Message;
use tonic::codec::{BufferSettings, Codec};
use tonic_prost::{ProstDecoder, ProstEncoder};

/// The starting size of a call's encode and decode buffers.
pub(crate) const BUFFER_SIZE: usize = 512;

/// Past this many encoded bytes a streaming encoder yields (tonic's default).
const YIELD_THRESHOLD: usize = 32 * 1024;

/// The buffer settings of [`ProstCodec`].
pub(crate) fn buffer_settings() -> BufferSettings {
    BufferSettings::new(BUFFER_SIZE, YIELD_THRESHOLD)
}

/// `tonic_prost::ProstCodec` with [`buffer_settings`]; `build.rs` makes the
/// generated code use it.
#[derive(Debug)]
pub(crate) struct ProstCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for ProstCodec<T, U> {
    fn default() -> Self {
        ProstCodec(PhantomData)
    }
}

impl<T, U> Codec for ProstCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = ProstDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::new(buffer_settings())
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProstDecoder::new(buffer_settings())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::codec::{Decoder, Encoder};

    #[test]
    fn buffers_start_small() {
        // `BufferSettings` shows its fields only through `Debug`.
        let mut codec = ProstCodec::<prost_types::Duration, prost_types::Duration>::default();
        let expected = format!("buffer_size: {BUFFER_SIZE},");
        for settings in [
            codec.encoder().buffer_settings(),
            codec.decoder().buffer_settings(),
        ] {
            let shown = format!("{settings:?}");
            assert!(shown.contains(&expected), "{shown}");
        }
    }
}
