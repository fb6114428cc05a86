//! Pages of List results and streams across all pages.
//!
//! A List call answers one [`Page`]. [`paginate`] turns any page-fetching
//! function into a stream of items that requests the next page only when the
//! previous one has been consumed, and stops only when the server answers an
//! empty `next_page_token` (an empty page with a token is not the end).
//! The List calls of the [services](crate::services) offer it as `.stream()`:
//!
//! ```no_run
//! # async fn f(client: yc_billing::Client) -> yc_billing::Result<()> {
//! use futures::TryStreamExt;
//!
//! let mut customers = client.customers().list("reseller-id").page_size(100).stream();
//! while let Some(customer) = customers.try_next().await? {
//!     println!("{}", customer.id);
//! }
//! # Ok(()) }
//! ```

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::hash::{BuildHasher, RandomState};

use futures::Stream;

use crate::error::{Error, Result};
use crate::quote::quoted as quote;

/// The default bound on the pages of one listing: [`paginate`] and the
/// `.stream()` of every List call end with [`Error::TooManyPages`] rather
/// than fetch page number 10,001. Override it per call with
/// [`Call::max_pages`](crate::services::Call::max_pages) or for a client with
/// [`ClientBuilder::max_pages`](crate::ClientBuilder::max_pages).
pub const DEFAULT_MAX_PAGES: u32 = 10_000;

/// One page of a List call.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page<T> {
    /// The items of this page, possibly none.
    pub items: Vec<T>,
    /// The token of the next page; empty on the last page.
    pub next_page_token: String,
}

impl<T> Page<T> {
    /// Whether this is the last page (the server gave no next page token).
    pub fn is_last(&self) -> bool {
        self.next_page_token.is_empty()
    }
}

impl<T> IntoIterator for Page<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

struct State<T, F> {
    fetch: F,
    /// The token of the next page to fetch; `None` once the stream is over.
    next: Option<String>,
    buffer: VecDeque<T>,
    /// An error to yield once the buffer is drained.
    pending: Option<Error>,
    /// The method, for error messages.
    method: &'static str,
    /// Pages fetched so far.
    pages: u32,
    /// The most pages this listing may fetch.
    max_pages: u32,
    /// Keyed hashes of every token sent in this listing (at most `max_pages`
    /// of them, 8 bytes each, whatever the tokens' size).
    seen: HashSet<u64>,
    /// The per-listing random key of those hashes.
    hasher: RandomState,
}

/// A stream of every item of every page, fetched lazily with `fetch`, at
/// most [`DEFAULT_MAX_PAGES`] pages (see [`paginate_bounded`]).
///
/// `fetch` is called with the token of the page to get: `first_token` first
/// (empty for the first page), then each page's `next_page_token`. The
/// stream stops after a page with an empty `next_page_token`. A failed fetch
/// is yielded once and ends the stream. So does a server that breaks the
/// paging contract, which would otherwise loop forever: a `next_page_token`
/// that was already sent in this listing (the same as the request's, or any
/// earlier one: tokens that cycle) is [`Error::InvalidResponse`], and a
/// listing longer than the page bound (a server that answers a fresh token
/// on every page) is [`Error::TooManyPages`]. Either error comes after the
/// items of the last page fetched. `method` names the call in those errors.
///
/// ```
/// use futures::{StreamExt, TryStreamExt, executor::block_on};
/// use yc_billing::pagination::{Page, paginate};
///
/// let stream = paginate("/example.Service/List", String::new(), |token: String| async move {
///     let n: u32 = token.parse().unwrap_or(0);
///     Ok(Page {
///         items: vec![n],
///         next_page_token: if n < 2 { (n + 1).to_string() } else { String::new() },
///     })
/// });
/// let all: Vec<u32> = block_on(stream.try_collect()).unwrap();
/// assert_eq!(all, [0, 1, 2]);
/// ```
pub fn paginate<T, F, Fut>(
    method: &'static str,
    first_token: String,
    fetch: F,
) -> impl Stream<Item = Result<T>>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<Page<T>>>,
{
    paginate_bounded(method, first_token, DEFAULT_MAX_PAGES, fetch)
}

/// [`paginate`] with a bound of `max_pages` pages (0 is taken as 1): after
/// that many pages the stream yields [`Error::TooManyPages`] instead of
/// fetching another one.
///
/// ```
/// use futures::{StreamExt, executor::block_on};
/// use yc_billing::Error;
/// use yc_billing::pagination::{Page, paginate_bounded};
///
/// // A server that never ends: a fresh token on every page.
/// let endless = |token: String| async move {
///     Ok(Page { items: vec![()], next_page_token: format!("{token}x") })
/// };
/// let items: Vec<_> = block_on(paginate_bounded("/example.Service/List", String::new(), 3, endless).collect());
/// assert_eq!(items.len(), 4);
/// assert!(matches!(items[3], Err(Error::TooManyPages { limit: 3, .. })));
/// ```
pub fn paginate_bounded<T, F, Fut>(
    method: &'static str,
    first_token: String,
    max_pages: u32,
    fetch: F,
) -> impl Stream<Item = Result<T>>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<Page<T>>>,
{
    let state = State {
        fetch,
        next: Some(first_token),
        buffer: VecDeque::new(),
        pending: None,
        method,
        pages: 0,
        max_pages: max_pages.max(1),
        seen: HashSet::new(),
        hasher: RandomState::new(),
    };
    futures::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(item) = s.buffer.pop_front() {
                return Some((Ok(item), s));
            }
            if let Some(error) = s.pending.take() {
                return Some((Err(error), s));
            }
            let token = s.next.take()?;
            s.seen.insert(s.hasher.hash_one(&token));
            s.pages += 1;
            match (s.fetch)(token.clone()).await {
                Ok(page) => {
                    s.buffer = page.items.into();
                    let next = page.next_page_token;
                    if next.is_empty() {
                        // The last page: drain the buffer, then end.
                    } else if next == token {
                        // Deliver the page's items, then the error, then end.
                        s.pending = Some(Error::InvalidResponse {
                            method: s.method.to_owned(),
                            reason: format!(
                                "next_page_token {} repeats the token of the request",
                                quote(&token)
                            ),
                        });
                    } else if s.seen.contains(&s.hasher.hash_one(&next)) {
                        s.pending = Some(Error::InvalidResponse {
                            method: s.method.to_owned(),
                            reason: format!(
                                "next_page_token {} on page {} was already sent earlier in \
                                 this listing (the server's page tokens cycle)",
                                quote(&next),
                                s.pages
                            ),
                        });
                    } else if s.pages >= s.max_pages {
                        s.pending = Some(Error::TooManyPages {
                            method: s.method.to_owned(),
                            limit: s.max_pages,
                        });
                    } else {
                        s.next = Some(next);
                    }
                }
                Err(e) => return Some((Err(e), s)),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use futures::executor::block_on;
    use std::cell::RefCell;
    use std::rc::Rc;

    /// A fake server with `total` items in pages of `size`, recording the tokens asked for.
    fn server(
        total: u32,
        size: u32,
        log: Rc<RefCell<Vec<String>>>,
    ) -> impl FnMut(String) -> futures::future::Ready<Result<Page<u32>>> {
        move |token: String| {
            log.borrow_mut().push(token.clone());
            let start: u32 = token.parse().unwrap_or(0);
            let end = (start + size).min(total);
            let next = if end < total {
                end.to_string()
            } else {
                String::new()
            };
            futures::future::ready(Ok(Page {
                items: (start..end).collect(),
                next_page_token: next,
            }))
        }
    }

    #[test]
    fn streams_all_pages_when_size_does_not_divide_count() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let items: Vec<u32> = block_on(
            paginate("/t/List", String::new(), server(23, 5, log.clone()))
                .map(|r| r.unwrap())
                .collect(),
        );
        assert_eq!(items, (0..23).collect::<Vec<_>>());
        assert_eq!(*log.borrow(), ["", "5", "10", "15", "20"]);
    }

    #[test]
    fn fetches_lazily() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let mut stream = std::pin::pin!(paginate(
            "/t/List",
            String::new(),
            server(20, 5, log.clone())
        ));
        assert!(log.borrow().is_empty(), "nothing before the first poll");
        for expected in 0..6 {
            assert_eq!(block_on(stream.next()).unwrap().unwrap(), expected);
        }
        assert_eq!(*log.borrow(), ["", "5"]);
    }

    #[test]
    fn empty_page_with_token_is_not_the_end() {
        let pages = vec![
            Page {
                items: vec![1, 2],
                next_page_token: "a".to_owned(),
            },
            Page {
                items: vec![],
                next_page_token: "b".to_owned(),
            },
            Page {
                items: vec![],
                next_page_token: "c".to_owned(),
            },
            Page {
                items: vec![3],
                next_page_token: String::new(),
            },
        ];
        let mut pages = pages.into_iter();
        let calls = Rc::new(RefCell::new(0));
        let c = calls.clone();
        let stream = paginate("/t/List", String::new(), move |_t: String| {
            *c.borrow_mut() += 1;
            futures::future::ready(Ok(pages.next().expect("fetched past the last page")))
        });
        let items: Vec<u32> = block_on(stream.map(|r| r.unwrap()).collect());
        assert_eq!(items, [1, 2, 3]);
        assert_eq!(*calls.borrow(), 4);
    }

    #[test]
    fn empty_result_is_one_call() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let items: Vec<_> =
            block_on(paginate("/t/List", String::new(), server(0, 5, log.clone())).collect());
        assert!(items.is_empty());
        assert_eq!(log.borrow().len(), 1);
    }

    #[test]
    fn starts_from_the_given_token() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let items: Vec<u32> = block_on(
            paginate("/t/List", "15".to_owned(), server(23, 5, log.clone()))
                .map(|r| r.unwrap())
                .collect(),
        );
        assert_eq!(items, (15..23).collect::<Vec<_>>());
    }

    #[test]
    fn error_is_yielded_once_and_ends_the_stream() {
        let calls = Rc::new(RefCell::new(0));
        let c = calls.clone();
        let stream = paginate("/t/List", String::new(), move |token: String| {
            *c.borrow_mut() += 1;
            futures::future::ready(if token.is_empty() {
                Ok(Page {
                    items: vec![1, 2],
                    next_page_token: "p2".to_owned(),
                })
            } else {
                Err(Error::config("page", "boom"))
            })
        });
        let items: Vec<_> = block_on(stream.collect());
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].as_ref().unwrap(), &1);
        assert_eq!(items[1].as_ref().unwrap(), &2);
        assert!(matches!(items[2], Err(Error::Config { .. })));
        assert_eq!(*calls.borrow(), 2, "no fetch after the error");
    }

    #[test]
    fn repeated_token_is_an_error_not_a_loop() {
        let stream = paginate("/t/List", String::new(), |_t: String| {
            futures::future::ready(Ok(Page {
                items: Vec::<u32>::new(),
                next_page_token: "same".to_owned(),
            }))
        });
        let items: Vec<_> = block_on(stream.take(10).collect());
        assert_eq!(items.len(), 1);
        assert!(matches!(items[0], Err(Error::InvalidResponse { .. })));
    }

    /// A server whose tokens go `"" → a → b → a → …`.
    fn cycling(token: String) -> futures::future::Ready<Result<Page<String>>> {
        let next = if token == "a" { "b" } else { "a" };
        futures::future::ready(Ok(Page {
            items: vec![token],
            next_page_token: next.to_owned(),
        }))
    }

    #[test]
    fn cycling_tokens_are_an_error_not_a_loop() {
        let items: Vec<_> = block_on(
            paginate("/t/List", String::new(), cycling)
                .take(10)
                .collect(),
        );
        assert_eq!(items.len(), 4, "{items:?}");
        let pages: Vec<_> = items[..3]
            .iter()
            .map(|r| r.as_ref().unwrap().as_str())
            .collect();
        assert_eq!(pages, ["", "a", "b"]);
        match &items[3] {
            Err(Error::InvalidResponse { method, reason }) => {
                assert_eq!(method, "/t/List");
                assert!(
                    reason.contains("\"a\"") && reason.contains("cycle"),
                    "{reason}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_token_seen_only_on_the_first_request_is_caught() {
        // The caller's first token counts as sent: x → y → x is a cycle.
        let stream = paginate("/t/List", "x".to_owned(), |token: String| {
            let next = if token == "x" { "y" } else { "x" };
            futures::future::ready(Ok(Page {
                items: Vec::<u8>::new(),
                next_page_token: next.to_owned(),
            }))
        });
        let items: Vec<_> = block_on(stream.take(10).collect());
        assert_eq!(items.len(), 1);
        assert!(matches!(items[0], Err(Error::InvalidResponse { .. })));
    }

    #[test]
    fn fresh_tokens_end_at_the_page_bound() {
        let calls = Rc::new(RefCell::new(0u32));
        let c = calls.clone();
        let stream = paginate_bounded("/t/List", String::new(), 25, move |token: String| {
            *c.borrow_mut() += 1;
            futures::future::ready(Ok(Page {
                items: vec![0u8],
                next_page_token: format!("{token}n"),
            }))
        });
        let items: Vec<_> = block_on(stream.take(1000).collect());
        assert_eq!(*calls.borrow(), 25);
        assert_eq!(items.len(), 26, "25 items, then the error");
        match &items[25] {
            Err(e @ Error::TooManyPages { method, limit }) => {
                assert_eq!((method.as_str(), *limit), ("/t/List", 25));
                assert!(e.to_string().contains("25 pages"), "{e}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_default_bound_holds_and_a_listing_of_exactly_the_bound_is_fine() {
        let calls = Rc::new(RefCell::new(0u32));
        let c = calls.clone();
        let endless = paginate("/t/List", String::new(), move |token: String| {
            *c.borrow_mut() += 1;
            let n: u32 = token.parse().unwrap_or(0);
            futures::future::ready(Ok(Page {
                items: Vec::<u8>::new(),
                next_page_token: (n + 1).to_string(),
            }))
        });
        let items: Vec<_> = block_on(endless.take(3).collect());
        assert_eq!(items.len(), 1);
        assert!(matches!(
            items[0],
            Err(Error::TooManyPages {
                limit: DEFAULT_MAX_PAGES,
                ..
            })
        ));
        assert_eq!(*calls.borrow(), DEFAULT_MAX_PAGES);

        // Exactly 3 pages with a bound of 3: no error.
        let log = Rc::new(RefCell::new(Vec::new()));
        let items: Vec<_> =
            block_on(paginate_bounded("/t/List", String::new(), 3, server(15, 5, log)).collect());
        assert_eq!(items.len(), 15);
        assert!(items.iter().all(Result::is_ok));
    }

    #[test]
    fn huge_tokens_are_quoted_short() {
        let big = "t".repeat(1 << 20);
        let b = big.clone();
        let stream = paginate("/t/List", String::new(), move |_t: String| {
            futures::future::ready(Ok(Page {
                items: Vec::<u8>::new(),
                next_page_token: b.clone(),
            }))
        });
        let items: Vec<_> = block_on(stream.take(5).collect());
        let Err(e) = &items[0] else {
            panic!("{items:?}")
        };
        let text = e.to_string();
        assert!(text.len() < 300, "{} bytes", text.len());
        assert!(text.contains(&format!("{} bytes", big.len())), "{text}");
    }
}
