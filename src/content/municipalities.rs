//! The municipalities one Loket serves: each with its own folder, settings and served
//! content, found by its slug (web chat, API) or by its WhatsApp number (webhooks). A
//! deployment with one municipality has one entry here and routes everything to it.

use std::collections::HashMap;
use std::sync::Arc;

use super::Content;

/// One municipality: its slug and its content.
#[derive(Clone)]
pub struct Municipality {
    pub slug: String,
    pub content: Arc<Content>,
}

impl Municipality {
    /// The WhatsApp number id its settings name, if any.
    pub fn phone_number_id(&self) -> Option<String> {
        self.content
            .snapshot()
            .kb
            .settings
            .whatsapp_phone_number_id
            .clone()
    }
}

/// Every municipality served, the first one being the default.
pub struct Municipalities {
    list: Vec<Municipality>,
    by_slug: HashMap<String, usize>,
    /// `whatsapp.phone_number_id` from the config: the default municipality's number when
    /// its settings name none.
    default_number: String,
}

/// Why municipalities cannot be served together.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("two municipality folders have the slug `{0}`: {1} and {2}; set `slug` in one")]
    DuplicateSlug(String, String, String),
    #[error("the WhatsApp number id {0} is set for both `{1}` and `{2}`")]
    DuplicateNumber(String, String, String),
}

impl Municipalities {
    /// The registry of `list` (non-empty; the first is the default). Slugs and WhatsApp
    /// numbers must be unique.
    pub fn new(list: Vec<Arc<Content>>, default_number: &str) -> Result<Self, RegistryError> {
        let mut by_slug = HashMap::new();
        let mut numbers: HashMap<String, String> = HashMap::new();
        let mut out = Vec::new();
        for (i, content) in list.into_iter().enumerate() {
            let settings = content.snapshot().kb.settings.clone();
            let slug = settings.slug.clone();
            if let Some(&j) = by_slug.get(&slug) {
                let other: &Municipality = &out[j];
                return Err(RegistryError::DuplicateSlug(
                    slug,
                    other.content.dir().display().to_string(),
                    content.dir().display().to_string(),
                ));
            }
            let number = settings
                .whatsapp_phone_number_id
                .clone()
                .or_else(|| (i == 0 && !default_number.is_empty()).then(|| default_number.into()));
            if let Some(n) = number
                && let Some(prev) = numbers.insert(n.clone(), slug.clone())
            {
                return Err(RegistryError::DuplicateNumber(n, prev, slug));
            }
            by_slug.insert(slug.clone(), i);
            out.push(Municipality { slug, content });
        }
        assert!(!out.is_empty(), "a Loket serves at least one municipality");
        Ok(Municipalities {
            list: out,
            by_slug,
            default_number: default_number.to_string(),
        })
    }

    /// One municipality (tests, tools).
    pub fn single(content: Arc<Content>) -> Self {
        Municipalities::new(vec![content], "").expect("one municipality cannot collide")
    }

    /// The default municipality: the only one, or `paths.knowledge_base`.
    pub fn default(&self) -> &Municipality {
        &self.list[0]
    }

    /// The slug a stored conversation belongs to: an empty one (written before municipalities
    /// were known, or by an older instance during an upgrade) is the default municipality's.
    pub fn owner<'a>(&'a self, stored: &'a str) -> &'a str {
        if stored.is_empty() {
            &self.default().slug
        } else {
            stored
        }
    }

    pub fn get(&self, slug: &str) -> Option<&Municipality> {
        self.by_slug.get(slug).map(|&i| &self.list[i])
    }

    /// The municipality named by `slug`, or the default one when none is named.
    pub fn named(&self, slug: Option<&str>) -> Option<&Municipality> {
        match slug {
            None | Some("") => Some(self.default()),
            Some(s) => self.get(s),
        }
    }

    /// The municipality a WhatsApp number belongs to: the one whose settings name it, or
    /// the default one for `whatsapp.phone_number_id` (and for any number when only one
    /// municipality is served, as before there were several).
    pub fn by_phone_number_id(&self, id: &str) -> Option<&Municipality> {
        if self.list.len() == 1 {
            return Some(self.default());
        }
        self.list
            .iter()
            .find(|m| m.phone_number_id().as_deref() == Some(id))
            .or_else(|| (id == self.default_number).then(|| self.default()))
    }

    /// The number to send a municipality's WhatsApp replies from.
    pub fn sending_number(&self, slug: &str) -> String {
        self.get(slug)
            .and_then(Municipality::phone_number_id)
            .unwrap_or_else(|| self.default_number.clone())
    }

    pub fn iter(&self) -> impl Iterator<Item = &Municipality> {
        self.list.iter()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}
