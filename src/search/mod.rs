//! The FAQ index: a tantivy index in memory over the knowledge-base entries (title, example
//! questions, answer, tags, and character n-grams), searched with the Dutch analyzer. Built
//! at start-up and on every reload; it never changes after it is built.

pub mod analyzer;

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{Index, IndexReader, TantivyDocument, Term, doc};

use crate::knowledge::Entry;

#[derive(Debug, thiserror::Error)]
#[error("FAQ index: {0}")]
pub struct SearchError(#[from] tantivy::TantivyError);

/// A search hit: the entry's position in the knowledge base and its BM25 score.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub entry: usize,
    pub score: f32,
}

struct Fields {
    ord: Field,
    intent: Field,
    title: Field,
    questions: Field,
    answer: Field,
    tags: Field,
    grams: Field,
}

pub struct FaqIndex {
    reader: IndexReader,
    fields: Fields,
    nl: TextAnalyzer,
    grams: TextAnalyzer,
}

impl std::fmt::Debug for FaqIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FaqIndex")
    }
}

/// How much a match in each field counts: citizens' phrasings in `questions` say most.
const BOOST_TITLE: f32 = 2.0;
const BOOST_QUESTIONS: f32 = 2.5;
const BOOST_TAGS: f32 = 1.5;
const BOOST_ANSWER: f32 = 0.6;
const BOOST_GRAMS: f32 = 0.15;

impl FaqIndex {
    pub fn build(entries: &[Entry]) -> Result<FaqIndex, SearchError> {
        let mut sb = Schema::builder();
        let text = |name: &str| {
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(name)
                    .set_index_option(IndexRecordOption::WithFreqsAndPositions),
            )
        };
        let fields = Fields {
            ord: sb.add_u64_field("ord", NumericOptions::default().set_stored()),
            intent: sb.add_text_field("intent", STRING),
            title: sb.add_text_field("title", text(analyzer::NL)),
            questions: sb.add_text_field("questions", text(analyzer::NL)),
            answer: sb.add_text_field("answer", text(analyzer::NL)),
            tags: sb.add_text_field("tags", text(analyzer::NL)),
            grams: sb.add_text_field(
                "grams",
                TextOptions::default().set_indexing_options(
                    TextFieldIndexing::default()
                        .set_tokenizer(analyzer::GRAMS)
                        .set_index_option(IndexRecordOption::WithFreqs),
                ),
            ),
        };
        let index = Index::create_in_ram(sb.build());
        index.tokenizers().register(analyzer::NL, analyzer::dutch());
        index
            .tokenizers()
            .register(analyzer::GRAMS, analyzer::grams());
        // One thread: the index is small and the other core serves requests meanwhile.
        let mut writer = index.writer_with_num_threads(1, 15_000_000)?;
        for (i, e) in entries.iter().enumerate() {
            let questions = e.questions.join("\n");
            let tags = e.tags.join(" ");
            let grams = analyzer::gram_text(&format!("{} {} {}", e.title, questions, tags));
            writer.add_document(doc!(
                fields.ord => i as u64,
                fields.intent => e.intent.clone(),
                fields.title => e.title.clone(),
                fields.questions => questions,
                fields.answer => e.answer.clone(),
                fields.tags => tags,
                fields.grams => grams,
            ))?;
        }
        writer.commit()?;
        let reader = index.reader()?;
        reader.reload()?;
        Ok(FaqIndex {
            reader,
            fields,
            nl: analyzer::dutch(),
            grams: analyzer::grams(),
        })
    }

    /// The BM25 score of each of the `entries` entries for `text` (0 outside the best 50,
    /// and for all when the search fails).
    pub fn scores(&self, text: &str, entries: usize) -> Vec<f32> {
        let mut scores = vec![0f32; entries];
        if let Ok(hits) = self.search(text, None, 50) {
            for h in hits {
                scores[h.entry] = h.score;
            }
        }
        scores
    }

    /// The best `limit` entries for `text`, optionally only those of one intent.
    pub fn search(
        &self,
        text: &str,
        intent: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Hit>, SearchError> {
        let mut nl = self.nl.clone();
        let mut grams = self.grams.clone();
        let words = counted(analyzer::terms(&mut nl, text), MAX_QUERY_WORDS);
        let gram_terms = counted(
            analyzer::terms(&mut grams, &analyzer::gram_text(text)),
            MAX_QUERY_GRAMS,
        );
        let mut should: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let f = &self.fields;
        for (w, n) in &words {
            for (field, boost) in [
                (f.title, BOOST_TITLE),
                (f.questions, BOOST_QUESTIONS),
                (f.tags, BOOST_TAGS),
                (f.answer, BOOST_ANSWER),
            ] {
                should.push((Occur::Should, boosted(field, w, boost * *n as f32)));
            }
        }
        for (g, n) in &gram_terms {
            should.push((Occur::Should, boosted(f.grams, g, BOOST_GRAMS * *n as f32)));
        }
        if should.is_empty() {
            return Ok(Vec::new());
        }
        let mut query: Box<dyn Query> = Box::new(BooleanQuery::new(should));
        if let Some(intent) = intent {
            query = Box::new(BooleanQuery::new(vec![
                (Occur::Must, query),
                (
                    Occur::Must,
                    Box::new(TermQuery::new(
                        Term::from_field_text(f.intent, intent),
                        IndexRecordOption::Basic,
                    )),
                ),
            ]));
        }
        let searcher = self.reader.searcher();
        let top = searcher.search(&query, &TopDocs::with_limit(limit).order_by_score())?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let doc: TantivyDocument = searcher.doc(addr)?;
            let entry = doc
                .get_first(f.ord)
                .and_then(|v| v.as_u64())
                .expect("every document has its ordinal") as usize;
            hits.push(Hit { entry, score });
        }
        Ok(hits)
    }
}

/// Distinct query words (and character n-grams) a message may have. A query clause per term
/// costs a scorer with its buffers: a 4,096-character message made thousands of them, and
/// 300 such messages at once took the process to 1.5 GB. Ordinary questions have fewer
/// than 40 words.
const MAX_QUERY_WORDS: usize = 128;
const MAX_QUERY_GRAMS: usize = 1024;

/// The distinct terms in order of first appearance, each with how often it occurs, at most
/// `max` of them. A term twice in the text counts twice, as two clauses of the same term
/// did before: scores are unchanged.
fn counted(terms: Vec<String>, max: usize) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for t in terms {
        if let Some(&i) = index.get(&t) {
            out[i].1 += 1;
        } else if out.len() < max {
            index.insert(t.clone(), out.len());
            out.push((t, 1));
        }
    }
    out
}

fn boosted(field: Field, text: &str, boost: f32) -> Box<dyn Query> {
    Box::new(BoostQuery::new(
        Box::new(TermQuery::new(
            Term::from_field_text(field, text),
            IndexRecordOption::WithFreqs,
        )),
        boost,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_terms_are_counted_once_each_and_capped() {
        let terms = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(
            counted(terms("paspoort kosten paspoort kind"), 10),
            [
                ("paspoort".to_string(), 2),
                ("kosten".to_string(), 1),
                ("kind".to_string(), 1)
            ]
        );
        // Past the cap, new terms are dropped and known ones still counted.
        assert_eq!(
            counted(terms("a b c a d"), 2),
            [("a".to_string(), 2), ("b".to_string(), 1)]
        );
    }
}
