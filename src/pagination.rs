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

use std::collections::VecDeque;
use std::future::Future;

use futures::Stream;

use crate::error::{Error, Result};

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
}

/// A stream of every item of every page, fetched lazily with `fetch`.
///
/// `fetch` is called with the token of the page to get: `first_token` first
/// (empty for the first page), then each page's `next_page_token`. The
/// stream stops after a page with an empty `next_page_token`. A failed fetch
/// is yielded once and ends the stream; so does a server that answers with
/// the same token it was given (which would otherwise loop forever), as
/// [`Error::InvalidResponse`]. `method` names the call in that error.
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
    let state = State {
        fetch,
        next: Some(first_token),
        buffer: VecDeque::new(),
        pending: None,
        method,
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
            match (s.fetch)(token.clone()).await {
                Ok(page) => {
                    s.buffer = page.items.into();
                    if page.next_page_token.is_empty() {
                        // The last page: drain the buffer, then end.
                    } else if page.next_page_token == token {
                        // Deliver the page's items, then the error, then end.
                        s.pending = Some(Error::InvalidResponse {
                            method: s.method.to_owned(),
                            reason: format!(
                                "next_page_token {token:?} repeats the token of the request"
                            ),
                        });
                    } else {
                        s.next = Some(page.next_page_token);
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
}
