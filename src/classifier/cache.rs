//! A file cache of sentence embeddings, keyed by model and text, so that start-up and
//! reloads only encode the intent examples and FAQ questions that changed.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

use super::{ClassifierError, Embed};

/// From this many texts to encode, the progress is logged.
const PROGRESS_FROM: usize = 500;

pub struct EmbeddingCache {
    path: Option<PathBuf>,
    dim: usize,
    /// Each vector is shared with the snapshots that use it: a text that several
    /// municipalities serve (a national entry's title) is held in memory once.
    map: HashMap<String, Arc<[f32]>>,
    /// Texts encoded since the last save, appended to the file by the next one.
    added: Vec<String>,
    /// The file was damaged (a torn write): the next save writes it whole.
    rewrite: bool,
}

/// Vectors by text.
type Vectors = HashMap<String, Arc<[f32]>>;

/// One cache per file for the whole process, shared by every municipality's builds.
static SHARED: LazyLock<Mutex<HashMap<PathBuf, Arc<Mutex<EmbeddingCache>>>>> =
    LazyLock::new(Default::default);

impl EmbeddingCache {
    /// Opens the cache for `embedder` in `dir` (no file when `dir` is None).
    pub fn open(dir: Option<&Path>, embedder: &dyn Embed) -> EmbeddingCache {
        let dim = embedder.dim();
        let path = dir.map(|d| d.join(format!("embeddings-{}.bin", embedder.id())));
        let (map, rewrite) = match path.as_deref().map(|p| read(p, dim)) {
            Some(Ok(read)) => read,
            Some(Err(e)) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::warn!(error = %e, "cannot read the embedding cache; encoding again");
                (HashMap::new(), true)
            }
            _ => (HashMap::new(), false),
        };
        EmbeddingCache {
            path,
            dim,
            map,
            added: Vec::new(),
            rewrite,
        }
    }

    /// The process's one cache for `embedder` in `dir`, opened on first use: the builds of
    /// all municipalities (and their reloads) read the file once and share the vectors.
    pub fn shared(dir: &Path, embedder: &dyn Embed) -> Arc<Mutex<EmbeddingCache>> {
        let path = dir.join(format!("embeddings-{}.bin", embedder.id()));
        SHARED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(path)
            .or_insert_with(|| Arc::new(Mutex::new(EmbeddingCache::open(Some(dir), embedder))))
            .clone()
    }

    /// Vectors for all `texts`, encoding the missing ones in batches (with progress in the
    /// log when there are many).
    pub fn embed_all(
        &mut self,
        embedder: &dyn Embed,
        texts: &[String],
    ) -> Result<Vec<Arc<[f32]>>, ClassifierError> {
        let mut missing: Vec<&str> = texts
            .iter()
            .filter(|t| !self.map.contains_key(t.as_str()))
            .map(String::as_str)
            .collect();
        // By length, so each batch pads its texts to about the same length (a batch is as
        // slow as its longest text).
        missing.sort_unstable_by_key(|t| (t.len(), *t));
        missing.dedup();
        // A first start encodes the whole content once: say how far it is, every tenth.
        let total = missing.len();
        let started = std::time::Instant::now();
        let mut reported = 0;
        for (k, chunk) in missing.chunks(32).enumerate() {
            let vs = embedder.embed(chunk)?;
            for (t, v) in chunk.iter().zip(vs) {
                self.map.insert(t.to_string(), v.into());
                self.added.push(t.to_string());
            }
            let done = (k * 32 + chunk.len()).min(total);
            if total >= PROGRESS_FROM && done * 10 / total > reported {
                reported = done * 10 / total;
                tracing::info!(
                    done,
                    total,
                    seconds = started.elapsed().as_secs_f32(),
                    "encoding the content (once; later starts read the cache)"
                );
            }
        }
        Ok(texts.iter().map(|t| self.map[t.as_str()].clone()).collect())
    }

    /// The directory the cache lives in, for other derived artefacts (the trained head).
    pub fn dir(&self) -> Option<&Path> {
        self.path.as_deref().and_then(Path::parent)
    }

    /// Writes what was encoded since the last save to the file (appended; the whole file
    /// when it was damaged); failures only cost time at the next start.
    pub fn save(&mut self) {
        let Some(path) = &self.path else {
            return;
        };
        if self.added.is_empty() && !self.rewrite {
            return;
        }
        let result = if self.rewrite {
            let all: Vec<&String> = self.map.keys().collect();
            write(path, self.dim, &all, &self.map, false)
        } else {
            let added: Vec<&String> = self.added.iter().collect();
            write(path, self.dim, &added, &self.map, true)
        };
        match result {
            Ok(()) => {
                self.added.clear();
                self.rewrite = false;
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot write the embedding cache");
                // The file may now end in half a record: write it whole next time.
                self.rewrite = true;
            }
        }
    }
}

/// The records of the file, up to the first damaged one (a write torn by a crash, or two
/// processes appending at once), and whether there was one.
fn read(path: &Path, dim: usize) -> std::io::Result<(Vectors, bool)> {
    let mut buf = Vec::new();
    std::fs::File::open(path)?.read_to_end(&mut buf)?;
    let mut map = HashMap::new();
    let mut pos = 0usize;
    while pos < buf.len() {
        let Some(record) = record_at(&buf, pos, dim) else {
            tracing::warn!(
                path = %path.display(),
                kept = map.len(),
                "the embedding cache is damaged after this many texts; the rest is encoded again"
            );
            return Ok((map, true));
        };
        let (text, v, next) = record;
        map.insert(text, v);
        pos = next;
    }
    Ok((map, false))
}

/// The record at `pos`: its text, its vector and where the next one starts.
fn record_at(buf: &[u8], pos: usize, dim: usize) -> Option<(String, Arc<[f32]>, usize)> {
    let len = u32::from_le_bytes(buf.get(pos..pos + 4)?.try_into().ok()?) as usize;
    let text_at = pos + 4;
    let text = std::str::from_utf8(buf.get(text_at..text_at.checked_add(len)?)?).ok()?;
    let vec_at = text_at + len;
    let bytes = buf.get(vec_at..vec_at + 4 * dim)?;
    let v: Arc<[f32]> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    Some((text.to_string(), v, vec_at + 4 * dim))
}

/// Writes the records of `texts` to `path`: appended to it, or as a new file that replaces
/// it (written beside it and renamed, so a reader never sees half a file).
fn write(
    path: &Path,
    dim: usize,
    texts: &[&String],
    map: &HashMap<String, Arc<[f32]>>,
    append: bool,
) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut buf = Vec::with_capacity(texts.len() * (4 * dim + 64));
    for text in texts {
        let v = &map[text.as_str()];
        debug_assert_eq!(v.len(), dim);
        buf.extend_from_slice(&(text.len() as u32).to_le_bytes());
        buf.extend_from_slice(text.as_bytes());
        for x in v.iter() {
            buf.extend_from_slice(&x.to_le_bytes());
        }
    }
    if append {
        // One write of whole records: another process appending at the same moment cannot
        // split one of them on Linux' local file systems.
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        return f.write_all(&buf);
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, &buf)?;
    std::fs::rename(tmp, path)
}

/// The value cached as `<dir>/<name>.json`, or `compute`'s, which is then cached there
/// (written to a temporary file and renamed, so a reader never sees half a file). `name`
/// holds a hash of everything the value depends on; no `dir`: nothing is cached.
pub fn cached_json<T, E>(
    dir: Option<&Path>,
    name: &str,
    compute: impl FnOnce() -> Result<T, E>,
) -> Result<T, E>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let path = dir.map(|d| d.join(format!("{name}.json")));
    if let Some(p) = &path
        && let Some(value) = std::fs::read(p)
            .ok()
            .and_then(|b| serde_json::from_slice::<T>(&b).ok())
    {
        return Ok(value);
    }
    let value = compute()?;
    if let Some(p) = &path {
        let write = || -> std::io::Result<()> {
            if let Some(d) = p.parent() {
                std::fs::create_dir_all(d)?;
            }
            let tmp = p.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(
                &tmp,
                serde_json::to_vec(&value).map_err(std::io::Error::other)?,
            )?;
            std::fs::rename(tmp, p)
        };
        if let Err(e) = write() {
            tracing::warn!(error = %e, file = %p.display(), "cannot cache a computed value");
        }
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classifier::HashingEmbedder;

    #[test]
    fn round_trips_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let e = HashingEmbedder::default();
        let texts = vec!["paspoort".to_string(), "grofvuil".to_string()];
        let mut c = EmbeddingCache::open(Some(dir.path()), &e);
        let a = c.embed_all(&e, &texts).unwrap();
        c.save();
        let mut c2 = EmbeddingCache::open(Some(dir.path()), &e);
        assert_eq!(c2.map.len(), 2);
        assert_eq!(c2.embed_all(&e, &texts).unwrap(), a);
    }

    /// Later saves append what is new; a file that ends in half a record (a torn write)
    /// keeps the records before it, and the next save writes it whole again.
    #[test]
    fn appends_and_survives_a_torn_write() {
        let dir = tempfile::tempdir().unwrap();
        let e = HashingEmbedder::default();
        let mut c = EmbeddingCache::open(Some(dir.path()), &e);
        c.embed_all(&e, &["paspoort".to_string()]).unwrap();
        c.save();
        c.embed_all(&e, &["grofvuil".to_string(), "paspoort".to_string()])
            .unwrap();
        c.save();
        let path = dir.path().join(format!("embeddings-{}.bin", e.id()));
        let whole = std::fs::read(&path).unwrap();
        let one = 4 + "paspoort".len() + 4 * e.dim();
        assert_eq!(whole.len(), one + 4 + "grofvuil".len() + 4 * e.dim());
        std::fs::write(&path, &whole[..whole.len() - 7]).unwrap();
        let mut torn = EmbeddingCache::open(Some(dir.path()), &e);
        assert_eq!(torn.map.len(), 1);
        assert!(torn.rewrite);
        torn.embed_all(&e, &["grofvuil".to_string()]).unwrap();
        torn.save();
        assert_eq!(std::fs::read(&path).unwrap().len(), whole.len());
        assert_eq!(EmbeddingCache::open(Some(dir.path()), &e).map.len(), 2);
    }

    /// The shared cache is one per file: what one build encoded, the next one finds.
    #[test]
    fn one_shared_cache_per_file() {
        let dir = tempfile::tempdir().unwrap();
        let e = HashingEmbedder::default();
        let a = EmbeddingCache::shared(dir.path(), &e);
        let v = a
            .lock()
            .unwrap()
            .embed_all(&e, &["markt".to_string()])
            .unwrap();
        let b = EmbeddingCache::shared(dir.path(), &e);
        assert!(Arc::ptr_eq(&a, &b));
        let w = b
            .lock()
            .unwrap()
            .embed_all(&e, &["markt".to_string()])
            .unwrap();
        assert!(Arc::ptr_eq(&v[0], &w[0]));
    }
}
