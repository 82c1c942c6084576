//! The Dutch text analyzers of the FAQ index.
//!
//! - `nl`: words, lower-cased, accents folded ("geïnteresseerd" → "geinteresseerd"), compound
//!   words split into known parts ("parkeervergunning" → "parkeer" + "vergunning"), Dutch stop
//!   words removed, Dutch (Snowball) stemming.
//! - `grams`: character 3- and 4-grams of the folded words, so that typos ("paspport") and
//!   compounds the dictionary does not know ("afvalkalender" vs "kalender voor afval") still
//!   share most of their terms.

use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, NgramTokenizer, RemoveLongFilter, SimpleTokenizer,
    SplitCompoundWords, Stemmer, StopWordFilter, TextAnalyzer, TokenStream,
};

pub const NL: &str = "nl";
pub const GRAMS: &str = "grams";

static COMPOUND_PARTS: &str = include_str!("compounds.txt");

fn compound_parts() -> impl Iterator<Item = &'static str> {
    COMPOUND_PARTS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

pub fn dutch() -> TextAnalyzer {
    let split =
        SplitCompoundWords::from_dictionary(compound_parts()).expect("compound dictionary builds");
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(60))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(split)
        .filter(StopWordFilter::new(Language::Dutch).expect("tantivy ships Dutch stop words"))
        .filter(Stemmer::new(Language::Dutch))
        .build()
}

/// Character n-grams over the folded text; words are joined by single spaces so that
/// n-grams do not span punctuation.
pub fn grams() -> TextAnalyzer {
    TextAnalyzer::builder(NgramTokenizer::all_ngrams(3, 4).expect("valid n-gram sizes"))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// Normalises text for the `grams` field: words of at least three letters, folded, each
/// wrapped in spaces-free form, joined by `|` so that no n-gram crosses a word boundary
/// in a misleading way (the separator appears in n-grams that are rare on both sides).
pub fn gram_text(text: &str) -> String {
    let mut words = Vec::new();
    let mut analyzer = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build();
    let mut stream = analyzer.token_stream(text);
    while let Some(tok) = stream.next() {
        if tok.text.chars().count() >= 3 {
            words.push(tok.text.clone());
        }
    }
    words.join("|")
}

/// The terms an analyzer produces for `text`.
pub fn terms(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while let Some(tok) = stream.next() {
        out.push(tok.text.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_stems_and_splits_compounds() {
        let mut a = dutch();
        let t = terms(&mut a, "Parkeervergunning aanvragen voor de bewoners");
        assert!(t.contains(&"vergun".to_string()), "{t:?}");
        assert!(
            t.iter()
                .any(|x| x.starts_with("parkeer") || x.starts_with("parker")),
            "{t:?}"
        );
        assert!(!t.contains(&"de".to_string()));
        let t = terms(&mut a, "géïnteresseerd in grofvuil");
        assert!(t.iter().all(|x| x.is_ascii()), "{t:?}");
        assert!(t.contains(&"grof".to_string()), "{t:?}");
    }

    #[test]
    fn grams_overlap_for_typos() {
        let mut g = grams();
        let a = terms(&mut g, &gram_text("paspoort"));
        let b = terms(&mut g, &gram_text("paspport"));
        let c = terms(&mut g, &gram_text("grofvuil"));
        let shared = |x: &[String], y: &[String]| x.iter().filter(|t| y.contains(t)).count();
        assert!(shared(&a, &b) >= 4, "{a:?} {b:?}");
        assert!(shared(&a, &b) > shared(&a, &c) + 2);
    }
}
