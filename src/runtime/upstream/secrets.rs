//! The gateway's copy of the store's secrets, swapped whole when one changes, so a request
//! reads a header value with one atomic load and a rotated token applies to the next request
//! without a redeploy.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use http::HeaderValue;

#[derive(Default)]
pub struct Secrets(ArcSwap<HashMap<String, HeaderValue>>);

impl Secrets {
    /// Replaces every value (names and values as the store holds them). A value that is not
    /// a header value (the store's writer checks them; this only guards an edited file) is left
    /// out, so the upstream says the secret is missing rather than sending something else.
    pub fn replace(&self, pairs: Vec<(String, String)>) {
        let map = pairs
            .into_iter()
            .filter_map(|(name, value)| {
                let mut v = HeaderValue::from_str(&value).ok()?;
                v.set_sensitive(true);
                Some((name, v))
            })
            .collect();
        self.0.store(Arc::new(map));
    }

    pub fn get(&self, name: &str) -> Option<HeaderValue> {
        self.0.load().get(name).cloned()
    }
}
