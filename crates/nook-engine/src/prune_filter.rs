//! `prune --filter`: Docker's `until=` and `label=`/`label!=` filters,
//! one predicate the container, image and volume prunes share.

use crate::{Error, Result};
use serde_json::Value;

/// One `label` filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelFilter {
    /// The key.
    pub key: String,
    /// The value wanted (any when `None`).
    pub value: Option<String>,
    /// `label!=`: only what does NOT match is pruned.
    pub negate: bool,
}

/// What a prune is limited to (everything when empty).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PruneFilter {
    /// `until=`: only what was made before this time (Unix nanoseconds;
    /// the caller parses the timestamp or duration).
    pub until: Option<i64>,
    /// `label=`, `label!=`.
    pub labels: Vec<LabelFilter>,
}

impl PruneFilter {
    /// A `label=K[=V]` / `label!=K[=V]` filter added.
    pub fn add_label(&mut self, filter: &str) -> Result<()> {
        let (negate, rest) = match filter.split_once("!=") {
            Some(("label", rest)) => (true, rest),
            _ => match filter.split_once('=') {
                Some(("label", rest)) => (false, rest),
                _ => return Err(Error::invalid("filter", filter, "not a label filter")),
            },
        };
        let (key, value) = match rest.split_once('=') {
            Some((k, v)) => (k, Some(v.to_string())),
            None => (rest, None),
        };
        if key.is_empty() {
            return Err(Error::invalid("filter", filter, "the label has no key"));
        }
        self.labels.push(LabelFilter {
            key: key.to_string(),
            value,
            negate,
        });
        Ok(())
    }

    /// Whether something made at `created` (Unix nanoseconds; unknown:
    /// `None`, kept by an `until`) with `labels` is pruned.
    pub fn matches(&self, created: Option<i64>, labels: &Value) -> bool {
        if let Some(until) = self.until {
            if created.is_none_or(|c| c >= until) {
                return false;
            }
        }
        self.labels.iter().all(|f| {
            let hit = match labels.get(&f.key) {
                None => false,
                Some(v) => f
                    .value
                    .as_deref()
                    .is_none_or(|want| v.as_str() == Some(want)),
            };
            hit != f.negate
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn until_and_labels_as_dockers() {
        let mut f = PruneFilter {
            until: Some(100),
            ..Default::default()
        };
        f.add_label("label=tier=web").unwrap();
        f.add_label("label!=keep").unwrap();
        let web = json!({"tier": "web"});
        assert!(f.matches(Some(50), &web));
        assert!(!f.matches(Some(150), &web));
        assert!(!f.matches(None, &web));
        assert!(!f.matches(Some(50), &json!({"tier": "db"})));
        assert!(!f.matches(Some(50), &json!({"tier": "web", "keep": ""})));
        assert!(PruneFilter::default().matches(None, &json!({})));
        for bad in ["label=", "name=x", "label!="] {
            assert!(f.add_label(bad).is_err(), "{bad}");
        }
    }
}
