//! A file cache of sentence embeddings, keyed by model and text, so that start-up and
//! reloads only encode the intent examples and FAQ questions that changed.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::{ClassifierError, Embed};

/// From this many texts to encode, the progress is logged.
const PROGRESS_FROM: usize = 500;

pub struct EmbeddingCache {
    path: Option<PathBuf>,
    dim: usize,
    map: HashMap<String, Vec<f32>>,
    dirty: bool,
}

impl EmbeddingCache {
    /// Opens the cache for `embedder` in `dir` (no file when `dir` is None).
    pub fn open(dir: Option<&Path>, embedder: &dyn Embed) -> EmbeddingCache {
        let dim = embedder.dim();
        let path = dir.map(|d| d.join(format!("embeddings-{}.bin", embedder.id())));
        let map = path
            .as_deref()
            .and_then(|p| read(p, dim).ok())
            .unwrap_or_default();
        EmbeddingCache {
            path,
            dim,
            map,
            dirty: false,
        }
    }

    /// Vectors for all `texts`, encoding the missing ones in batches (with progress in the
    /// log when there are many).
    pub fn embed_all(
        &mut self,
        embedder: &dyn Embed,
        texts: &[String],
    ) -> Result<Vec<Vec<f32>>, ClassifierError> {
        let mut missing: Vec<&str> = texts
            .iter()
            .filter(|t| !self.map.contains_key(t.as_str()))
            .map(String::as_str)
            .collect();
        missing.sort_unstable();
        missing.dedup();
        // A first start encodes the whole content once: say how far it is, every tenth.
        let total = missing.len();
        let started = std::time::Instant::now();
        let mut reported = 0;
        for (k, chunk) in missing.chunks(32).enumerate() {
            let vs = embedder.embed(chunk)?;
            for (t, v) in chunk.iter().zip(vs) {
                self.map.insert(t.to_string(), v);
            }
            self.dirty = true;
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

    /// Writes the cache back when it changed; failures only cost time at the next start.
    pub fn save(&mut self) {
        let (Some(path), true) = (&self.path, self.dirty) else {
            return;
        };
        if let Err(e) = write(path, self.dim, &self.map) {
            tracing::warn!(path = %path.display(), error = %e, "cannot write the embedding cache");
        }
        self.dirty = false;
    }
}

fn read(path: &Path, dim: usize) -> std::io::Result<HashMap<String, Vec<f32>>> {
    let mut buf = Vec::new();
    std::fs::File::open(path)?.read_to_end(&mut buf)?;
    let mut map = HashMap::new();
    let mut pos = 0usize;
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "damaged cache");
    while pos < buf.len() {
        let len =
            u32::from_le_bytes(buf.get(pos..pos + 4).ok_or_else(bad)?.try_into().unwrap()) as usize;
        pos += 4;
        let text = std::str::from_utf8(buf.get(pos..pos + len).ok_or_else(bad)?)
            .map_err(|_| bad())?
            .to_string();
        pos += len;
        let bytes = buf.get(pos..pos + 4 * dim).ok_or_else(bad)?;
        let v = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        pos += 4 * dim;
        map.insert(text, v);
    }
    Ok(map)
}

fn write(path: &Path, dim: usize, map: &HashMap<String, Vec<f32>>) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension("tmp");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    for (text, v) in map {
        debug_assert_eq!(v.len(), dim);
        w.write_all(&(text.len() as u32).to_le_bytes())?;
        w.write_all(text.as_bytes())?;
        for x in v {
            w.write_all(&x.to_le_bytes())?;
        }
    }
    w.flush()?;
    drop(w);
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
}
