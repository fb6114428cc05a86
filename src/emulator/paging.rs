//! Opaque, HMAC-signed page tokens and page slicing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use tonic::Status;

use super::validation::invalid_argument;

/// Page size used when a request asks for 0.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// Largest page size accepted.
pub const MAX_PAGE_SIZE: i64 = 1000;

/// Signs and checks page tokens; the key is random per emulator.
pub(crate) struct PageTokens {
    key: hmac::Key,
}

impl PageTokens {
    pub fn new() -> Self {
        let secret: [u8; 32] = rand::random();
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &secret),
        }
    }

    fn tag(&self, scope: &str, offset: usize) -> String {
        let tag = hmac::sign(&self.key, format!("{scope}\n{offset}").as_bytes());
        URL_SAFE_NO_PAD.encode(&tag.as_ref()[..18])
    }

    /// A token for the page that starts at `offset` of the list `scope`.
    pub fn encode(&self, scope: &str, offset: usize) -> String {
        format!("{offset}.{}", self.tag(scope, offset))
    }

    /// The offset a token stands for; the token must have been issued for `scope`.
    pub fn decode(&self, scope: &str, token: &str) -> Result<usize, Status> {
        let bad = || {
            invalid_argument(vec![(
                "page_token".into(),
                "invalid page token: unknown, tampered with or issued for another request".into(),
            )])
        };
        let (text, tag) = token.split_once('.').ok_or_else(bad)?;
        let offset: usize = text.parse().map_err(|_| bad())?;
        // Only the form `encode` writes: "+7" and "007" are not the token issued.
        if offset.to_string() != text {
            return Err(bad());
        }
        let expected = URL_SAFE_NO_PAD
            .decode(self.tag(scope, offset))
            .map_err(|_| bad())?;
        let given = URL_SAFE_NO_PAD.decode(tag).map_err(|_| bad())?;
        if given.len() != expected.len() || given != expected {
            return Err(bad());
        }
        Ok(offset)
    }

    /// The page size a request asks for: 0 means [`DEFAULT_PAGE_SIZE`];
    /// outside `0..=MAX_PAGE_SIZE` it is INVALID_ARGUMENT naming `page_size`.
    pub fn size(page_size: i64) -> Result<usize, Status> {
        if !(0..=MAX_PAGE_SIZE).contains(&page_size) {
            return Err(invalid_argument(vec![(
                "page_size".into(),
                format!("value must be 0-{MAX_PAGE_SIZE} (value), got {page_size}"),
            )]));
        }
        Ok(if page_size == 0 {
            DEFAULT_PAGE_SIZE
        } else {
            page_size as usize
        })
    }

    /// Where a page starts: 0 for no token, else the position the token
    /// was issued for (an offset, or the key of the page's first item).
    pub fn start(&self, scope: &str, token: &str) -> Result<usize, Status> {
        if token.is_empty() {
            Ok(0)
        } else {
            self.decode(scope, token)
        }
    }

    /// The range of a list of `len` items that one page covers, plus the
    /// next page token ("" on the last page): callers clone only the page.
    pub fn window(
        &self,
        len: usize,
        scope: &str,
        page_size: i64,
        token: &str,
    ) -> Result<(std::ops::Range<usize>, String), Status> {
        let size = Self::size(page_size)?;
        let start = self.start(scope, token)?.min(len);
        let end = start.saturating_add(size).min(len);
        let next = if end < len {
            self.encode(scope, end)
        } else {
            String::new()
        };
        Ok((start..end, next))
    }

    /// One page of `items` plus the next page token ("" on the last page).
    pub fn page<T: Clone>(
        &self,
        items: &[T],
        scope: &str,
        page_size: i64,
        token: &str,
    ) -> Result<(Vec<T>, String), Status> {
        let (range, next) = self.window(items.len(), scope, page_size, token)?;
        Ok((items[range].to_vec(), next))
    }
}
