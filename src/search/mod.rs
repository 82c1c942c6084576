//! The FAQ index: tantivy indexes in memory over the knowledge-base entries (title, example
//! questions, answer, tags, and character n-grams), searched with the Dutch analyzer. Built
//! at start-up and on every reload; it never changes after it is built. The national
//! library's entries are indexed once for every municipality on it ([`SharedPart`]), each
//! municipality's own entries in a part of its own; BM25 counts both parts as one index.

pub mod analyzer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, Weak};

use tantivy::collector::TopDocs;
use tantivy::query::{Bm25StatisticsProvider, BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{Index, IndexReader, Searcher, Term, doc};

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

#[derive(Clone, Copy)]
struct Fields {
    ord: Field,
    intent: Field,
    title: Field,
    questions: Field,
    answer: Field,
    tags: Field,
    grams: Field,
}

/// The FAQ index of one municipality: its own part, over the entries that are its alone,
/// and the library's part, shared by every municipality on the same library.
pub struct FaqIndex {
    /// Every entry that is not in `shared`; a document's ordinal is its entry's position.
    own: IndexReader,
    /// The library's part and, per document of it, the entry it is here (`None`: switched
    /// off or replaced here).
    shared: Option<(Arc<SharedPart>, Vec<Option<usize>>)>,
    fields: Fields,
    nl: TextAnalyzer,
    grams: TextAnalyzer,
}

impl std::fmt::Debug for FaqIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FaqIndex")
    }
}

/// An index of the library's entries as the library writes them (with its example values
/// for the placeholders), built once and shared by every municipality on that library.
pub struct SharedPart {
    reader: IndexReader,
    /// Per entry id: its document's ordinal and the fingerprint of its text as written.
    by_id: HashMap<String, (usize, u64)>,
    docs: usize,
}

/// The shared parts in use, by the library folder their entries come from.
static SHARED: LazyLock<Mutex<HashMap<PathBuf, Weak<SharedPart>>>> =
    LazyLock::new(Default::default);

/// How much a match in each field counts: citizens' phrasings in `questions` say most.
const BOOST_TITLE: f32 = 2.0;
const BOOST_QUESTIONS: f32 = 2.5;
const BOOST_TAGS: f32 = 1.5;
const BOOST_ANSWER: f32 = 0.6;
const BOOST_GRAMS: f32 = 0.15;

/// The texts an entry is indexed with.
struct DocText<'a> {
    intent: &'a str,
    title: &'a str,
    questions: &'a [String],
    answer: &'a str,
    tags: &'a [String],
}

impl<'a> DocText<'a> {
    /// The entry as it is served.
    fn served(e: &'a Entry) -> Self {
        DocText {
            intent: &e.intent,
            title: &e.title,
            questions: &e.questions,
            answer: &e.answer,
            tags: &e.tags,
        }
    }

    /// The entry as its library writes it (the same for every municipality).
    fn as_written(e: &'a Entry) -> Self {
        match e.unfilled.as_deref() {
            Some(u) => DocText {
                title: &u.title,
                questions: &u.questions,
                answer: &u.answer,
                ..DocText::served(e)
            },
            None => DocText::served(e),
        }
    }

    fn fingerprint(&self, id: &str) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (
            id,
            self.intent,
            self.title,
            self.questions,
            self.answer,
            self.tags,
        )
            .hash(&mut h);
        h.finish()
    }
}

/// The field of a document's ordinal.
const ORD: &str = "ord";

fn schema() -> (Schema, Fields) {
    let mut sb = Schema::builder();
    let text = |name: &str| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(name)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
    };
    let fields = Fields {
        // A fast field: a hit's ordinal is read from a column, not from the document store.
        ord: sb.add_u64_field(ORD, NumericOptions::default().set_fast()),
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
    (sb.build(), fields)
}

/// An index in memory over `docs`, each with its ordinal.
fn build_part<'a>(
    docs: impl Iterator<Item = (usize, DocText<'a>)>,
) -> Result<IndexReader, SearchError> {
    let (schema, f) = schema();
    let index = Index::create_in_ram(schema);
    index.tokenizers().register(analyzer::NL, analyzer::dutch());
    index
        .tokenizers()
        .register(analyzer::GRAMS, analyzer::grams());
    // One thread: the index is small and the other core serves requests meanwhile.
    let mut writer = index.writer_with_num_threads(1, 15_000_000)?;
    for (ord, e) in docs {
        let questions = e.questions.join("\n");
        let tags = e.tags.join(" ");
        let grams = analyzer::gram_text(&format!("{} {} {}", e.title, questions, tags));
        writer.add_document(doc!(
            f.ord => ord as u64,
            f.intent => e.intent.to_string(),
            f.title => e.title.to_string(),
            f.questions => questions,
            f.answer => e.answer.to_string(),
            f.tags => tags,
            f.grams => grams,
        ))?;
    }
    writer.commit()?;
    let reader = index.reader()?;
    reader.reload()?;
    Ok(reader)
}

/// BM25 statistics over several parts together, so that a part's scores are those of one
/// index over all of them.
struct Together<'a>(Vec<&'a Searcher>);

impl Bm25StatisticsProvider for Together<'_> {
    fn total_num_tokens(&self, field: Field) -> tantivy::Result<u64> {
        self.0.iter().map(|s| s.total_num_tokens(field)).sum()
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        self.0.iter().map(|s| s.total_num_docs()).sum()
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        self.0.iter().map(|s| s.doc_freq(term)).sum()
    }
}

impl FaqIndex {
    /// One index over all `entries`.
    pub fn build(entries: &[Entry]) -> Result<FaqIndex, SearchError> {
        let own = build_part(entries.iter().map(DocText::served).enumerate())?;
        Ok(FaqIndex::new(own, None))
    }

    /// The index of a municipality's `entries`: the library's entries (`from_library`) in
    /// the part shared with every other municipality on that library, the rest in a part of
    /// its own. Scores are those of [`FaqIndex::build`] but for the library's entries read
    /// as the library writes them.
    pub fn build_layered(entries: &[Entry]) -> Result<FaqIndex, SearchError> {
        let library: Vec<usize> = (0..entries.len())
            .filter(|&i| entries[i].from_library)
            .collect();
        let Some(dir) = library
            .first()
            .and_then(|&i| entries[i].source.parent())
            .map(Path::to_path_buf)
        else {
            return FaqIndex::build(entries);
        };
        // Each library entry's fingerprint as written, computed once.
        let prints: Vec<u64> = library
            .iter()
            .map(|&i| DocText::as_written(&entries[i]).fingerprint(&entries[i].id))
            .collect();
        // Per library entry, its document in `part` when the part has it as written.
        let ords = |part: &SharedPart| -> Vec<Option<usize>> {
            library
                .iter()
                .zip(&prints)
                .map(|(&i, print)| {
                    part.by_id
                        .get(&entries[i].id)
                        .filter(|(_, p)| p == print)
                        .map(|(ord, _)| *ord)
                })
                .collect()
        };
        let matches = |part: &SharedPart| ords(part).iter().flatten().count();
        let shared = {
            let mut registry = SHARED.lock().unwrap_or_else(|e| e.into_inner());
            registry.retain(|_, w| w.strong_count() > 0);
            match registry.get(&dir).and_then(Weak::upgrade) {
                // Most of the library as this municipality has it: share it.
                Some(part) if 2 * matches(&part) >= library.len() => part,
                _ => {
                    let part = Arc::new(SharedPart::build(entries, &library, &prints)?);
                    registry.insert(dir, Arc::downgrade(&part));
                    part
                }
            }
        };
        let mut entry_of = vec![None; shared.docs];
        let mut in_shared = vec![false; entries.len()];
        for (&i, ord) in library.iter().zip(ords(&shared)) {
            if let Some(ord) = ord {
                entry_of[ord] = Some(i);
                in_shared[i] = true;
            }
        }
        let own = build_part(
            entries
                .iter()
                .enumerate()
                .filter(|(i, _)| !in_shared[*i])
                .map(|(i, e)| (i, DocText::served(e))),
        )?;
        Ok(FaqIndex::new(own, Some((shared, entry_of))))
    }

    fn new(own: IndexReader, shared: Option<(Arc<SharedPart>, Vec<Option<usize>>)>) -> Self {
        FaqIndex {
            own,
            shared,
            fields: schema().1,
            nl: analyzer::dutch(),
            grams: analyzer::grams(),
        }
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
        let Some(query) = self.query(text, intent) else {
            return Ok(Vec::new());
        };
        let own = self.own.searcher();
        let shared = self.shared.as_ref().map(|(p, _)| p.reader.searcher());
        let stats = Together(std::iter::once(&own).chain(shared.as_ref()).collect());
        let mut hits = top(&own, &*query, limit, &stats, Some)?;
        if let (Some(searcher), Some((_, entry_of))) = (&shared, &self.shared) {
            // Entries switched off or replaced here may take places among the best.
            let absent = entry_of.iter().filter(|e| e.is_none()).count();
            hits.extend(top(searcher, &*query, limit + absent, &stats, |ord| {
                entry_of[ord]
            })?);
            hits.sort_by(|a, b| b.score.total_cmp(&a.score));
            hits.truncate(limit);
        }
        Ok(hits)
    }

    /// The query for `text`: each word in each field and each character n-gram, optionally
    /// only in entries of one intent; `None` when the text has no terms.
    fn query(&self, text: &str, intent: Option<&str>) -> Option<Box<dyn Query>> {
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
            return None;
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
        Some(query)
    }
}

impl SharedPart {
    /// The part over `entries[library]`, as the library writes them (`prints`: their
    /// fingerprints, in the same order).
    fn build(
        entries: &[Entry],
        library: &[usize],
        prints: &[u64],
    ) -> Result<SharedPart, SearchError> {
        let reader = build_part(
            library
                .iter()
                .enumerate()
                .map(|(ord, &i)| (ord, DocText::as_written(&entries[i]))),
        )?;
        let by_id = library
            .iter()
            .zip(prints)
            .enumerate()
            .map(|(ord, (&i, &print))| (entries[i].id.clone(), (ord, print)))
            .collect();
        Ok(SharedPart {
            reader,
            by_id,
            docs: library.len(),
        })
    }
}

/// The best `limit` documents of one part, scored with `stats`, as hits on the entries
/// `entry` says their ordinals stand for (documents without an entry are left out).
fn top(
    searcher: &Searcher,
    query: &dyn Query,
    limit: usize,
    stats: &Together<'_>,
    entry: impl Fn(usize) -> Option<usize>,
) -> Result<Vec<Hit>, SearchError> {
    let found = searcher.search_with_statistics_provider(
        query,
        &TopDocs::with_limit(limit).order_by_score(),
        stats,
    )?;
    let columns = searcher
        .segment_readers()
        .iter()
        .map(|r| r.fast_fields().u64(ORD))
        .collect::<Result<Vec<_>, _>>()?;
    let mut hits = Vec::with_capacity(found.len());
    for (score, addr) in found {
        let ord = columns[addr.segment_ord as usize]
            .first(addr.doc_id)
            .expect("every document has its ordinal") as usize;
        if let Some(entry) = entry(ord) {
            hits.push(Hit { entry, score });
        }
    }
    Ok(hits)
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

    /// The fixture's entries, every other one as if from a library folder.
    fn layered_entries(library: &str) -> Vec<Entry> {
        let mut entries = crate::knowledge::fixture().entries;
        for (i, e) in entries.iter_mut().enumerate() {
            if i % 2 == 0 {
                e.from_library = true;
                e.source = Path::new(library).join(format!("{}.md", e.id));
            }
        }
        entries
    }

    #[test]
    fn the_shared_library_part_scores_as_one_index_and_is_built_once() {
        let entries = layered_entries("/test/landelijk/entries");
        let one = FaqIndex::build(&entries).unwrap();
        let layered = FaqIndex::build_layered(&entries).unwrap();
        for q in [
            "wat kost een paspoort",
            "grofvuil ophalen",
            "verhuizing doorgeven",
        ] {
            let (a, b) = (
                one.scores(q, entries.len()),
                layered.scores(q, entries.len()),
            );
            assert!(a.iter().any(|s| *s > 0.0), "{q}");
            for (x, y) in a.iter().zip(&b) {
                assert!(
                    (x - y).abs() <= 1e-4 * x.abs().max(1.0),
                    "{q}: {a:?} vs {b:?}"
                );
            }
        }
        // A second municipality on the same library shares the part...
        let again = FaqIndex::build_layered(&entries).unwrap();
        let part = |i: &FaqIndex| i.shared.as_ref().map(|(p, _)| Arc::as_ptr(p)).unwrap();
        assert_eq!(part(&layered), part(&again));
        // ...and one without a library entry (switched off there) never gets it.
        let off = entries.iter().position(|e| e.from_library).unwrap();
        let mut fewer = entries.clone();
        let gone = fewer.remove(off);
        let index = FaqIndex::build_layered(&fewer).unwrap();
        assert_eq!(part(&index), part(&layered));
        for hit in index.search(&gone.title, None, 50).unwrap() {
            assert!(hit.entry < fewer.len());
            assert_ne!(fewer[hit.entry].id, gone.id);
        }
        assert!(!index.search(&gone.title, None, 50).unwrap().is_empty());
    }

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
