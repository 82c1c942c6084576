//! The Uniforme Productnamenlijst (UPL): the national list of product names that every
//! entry is tagged with, so content lines up with the national catalogue.

use std::collections::HashMap;
use std::sync::LazyLock;

/// The UPL URI for "no product name yet": shared by unrelated entries, never a product.
const NO_UPL_NAME: &str = "UPL-naam_nog_niet_beschikbaar";

/// `upl` names a product: it is set, and not the list's "no product name yet".
pub fn is_product(upl: &str) -> bool {
    !upl.is_empty() && !upl.ends_with(NO_UPL_NAME)
}

/// One product of the list.
#[derive(Debug, Clone)]
pub struct UplProduct {
    pub uri: &'static str,
    pub name: &'static str,
    /// Offered by municipalities, and to citizens.
    pub municipal: bool,
    pub for_citizens: bool,
}

static TSV: &str = include_str!("upl_names.tsv");

static PRODUCTS: LazyLock<Vec<UplProduct>> = LazyLock::new(|| {
    TSV.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("uri\t"))
        .filter_map(|l| {
            let mut cols = l.split('\t');
            Some(UplProduct {
                uri: cols.next()?,
                name: cols.next()?,
                municipal: cols.next()? == "1",
                for_citizens: cols.next()? == "1",
            })
        })
        .collect()
});

static BY_URI: LazyLock<HashMap<&'static str, usize>> = LazyLock::new(|| {
    PRODUCTS
        .iter()
        .enumerate()
        .map(|(i, p)| (p.uri, i))
        .collect()
});

pub fn products() -> &'static [UplProduct] {
    &PRODUCTS
}

pub fn is_known(uri: &str) -> bool {
    BY_URI.contains_key(uri)
}

pub fn get(uri: &str) -> Option<&'static UplProduct> {
    BY_URI.get(uri).map(|&i| &PRODUCTS[i])
}

/// The closest known URI, for a hint when an editor mistyped one.
pub fn suggest(uri: &str) -> Option<&'static str> {
    let tail = uri.rsplit('/').next().unwrap_or(uri).to_lowercase();
    PRODUCTS
        .iter()
        .map(|p| {
            let t = p.uri.rsplit('/').next().unwrap_or(p.uri).to_lowercase();
            (super::entry::edit_distance(&t, &tail), p.uri)
        })
        .filter(|(d, _)| *d <= 4)
        .min()
        .map(|(_, u)| u)
}

#[cfg(test)]
mod tests {
    #[test]
    fn knows_the_list() {
        assert!(super::products().len() > 1000);
        assert!(super::is_known(
            "http://standaarden.overheid.nl/owms/terms/paspoort"
        ));
        assert!(!super::is_known(
            "http://standaarden.overheid.nl/owms/terms/pasport"
        ));
        assert_eq!(
            super::suggest("http://standaarden.overheid.nl/owms/terms/pasport"),
            Some("http://standaarden.overheid.nl/owms/terms/paspoort")
        );
    }
}
