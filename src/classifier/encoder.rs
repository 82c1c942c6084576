//! The multilingual-e5-small encoder: a BERT forward pass written on candle-core, with the
//! linear layers as quantized matmuls, and the e5 recipe around it ("query: " prefix, mean
//! pooling over the attention mask, L2 normalisation).
//!
//! Why a hand-written forward instead of `candle_transformers::models::bert`: it lets the
//! weights stay quantized, fuses Q, K and V into one matmul, and pads the 384-wide inputs
//! to 512 so that candle's fast x86 quantized kernels apply (they need a multiple of 256).
//! The stock f32 model is kept for measuring against ([`WeightFormat::F32`]).

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::quantized::{GgmlDType, QMatMul, QTensor, gguf_file};
use candle_core::{D, DType, Device, Module, Tensor};

use super::bert::{Bert, LayerWeights, Q4Rows};
use super::tokenize::UnigramTokenizer;

#[derive(Debug, thiserror::Error)]
pub enum EncoderError {
    #[error("model files missing in {dir}: {missing}; run scripts/fetch-model.sh")]
    Missing { dir: String, missing: String },
    #[error("cannot load the model: {0}")]
    Load(String),
    #[error("encoder: {0}")]
    Candle(#[from] candle_core::Error),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
}

/// How the linear-layer weights are held in memory at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightFormat {
    /// Dequantized to f32 (the reference).
    F32,
    /// Q4_0 as shipped, inputs padded to a multiple of 256.
    Q4_0,
    /// Re-quantized to Q8_0, inputs padded to a multiple of 256.
    Q8_0,
    /// Int8 per output row, with the project's own forward pass and AVX-512 VNNI kernel
    /// ([`super::bert`]); the default where the CPU has VNNI.
    Int8,
}

impl std::str::FromStr for WeightFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "f32" => Ok(WeightFormat::F32),
            "q4_0" => Ok(WeightFormat::Q4_0),
            "q8_0" => Ok(WeightFormat::Q8_0),
            "int8" => Ok(WeightFormat::Int8),
            _ => Err(format!(
                "unknown weight format {s:?}: use int8, f32, q4_0 or q8_0"
            )),
        }
    }
}

/// A linear layer `y = x Wᵀ + b`, with the input zero-padded when the weights were.
struct Linear {
    w: QMatMul,
    b: Tensor,
    pad_to: Option<usize>,
}

impl Linear {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let x = match self.pad_to {
            Some(width) => {
                let have = x.dim(D::Minus1)?;
                x.pad_with_zeros(D::Minus1, 0, width - have)?
            }
            None => x.clone(),
        };
        self.w.forward(&x)?.broadcast_add(&self.b)
    }
}

struct Layer {
    qkv: Linear,
    attn_out: Linear,
    attn_ln: (Tensor, Tensor),
    ffn_in: Linear,
    ffn_out: Linear,
    out_ln: (Tensor, Tensor),
}

/// One layer's tensors as the model file holds them (dequantized), as (weight, bias)
/// pairs; query, key and value stacked into one matrix.
struct LayerTensors {
    qkv: (Tensor, Tensor),
    out: (Tensor, Tensor),
    ln1: (Tensor, Tensor),
    ffn_in: (Tensor, Tensor),
    ffn_out: (Tensor, Tensor),
    ln2: (Tensor, Tensor),
}

impl LayerTensors {
    fn read(
        f: &mut dyn FnMut(&str) -> Result<Tensor, EncoderError>,
        layer: usize,
    ) -> Result<LayerTensors, EncoderError> {
        let p = format!("encoder.layer.{layer}");
        let mut pair = |m: &str| -> Result<(Tensor, Tensor), EncoderError> {
            Ok((f(&format!("{p}.{m}.weight"))?, f(&format!("{p}.{m}.bias"))?))
        };
        let q = pair("attention.self.query")?;
        let k = pair("attention.self.key")?;
        let v = pair("attention.self.value")?;
        Ok(LayerTensors {
            qkv: (
                Tensor::cat(&[&q.0, &k.0, &v.0], 0)?,
                Tensor::cat(&[&q.1, &k.1, &v.1], 0)?,
            ),
            out: pair("attention.output.dense")?,
            ln1: pair("attention.output.LayerNorm")?,
            ffn_in: pair("intermediate.dense")?,
            ffn_out: pair("output.dense")?,
            ln2: pair("output.LayerNorm")?,
        })
    }
}

pub struct Encoder {
    tokenizer: UnigramTokenizer,
    /// Word embeddings for the candle forward pass (the int8 one keeps its own copy).
    word: Option<QTensor>,
    pos: Tensor,
    token_type: Tensor,
    emb_ln: (Tensor, Tensor),
    layers: Vec<Layer>,
    /// The int8 forward pass; when set, `layers` is empty.
    bert: Option<Bert>,
    hidden: usize,
    heads: usize,
    eps: f64,
    max_tokens: usize,
    pub format: WeightFormat,
    pub load_time: std::time::Duration,
}

pub const MODEL_FILE: &str = "model.gguf";

/// A text that starts with this is a passage of content (e5's document side) and is
/// encoded as it is; every other text is a query and gets e5's `query: ` prefix.
pub const PASSAGE_PREFIX: &str = "passage: ";
pub const TOKENIZER_FILE: &str = "tokenizer.json";

/// Token ids of one batch: `[batch, len]` ids and mask.
pub struct Batch {
    pub ids: Vec<u32>,
    pub mask: Vec<u32>,
    pub batch: usize,
    pub len: usize,
}

impl Encoder {
    /// Loads the model; `threads` compute threads for the int8 forward pass (the candle
    /// formats use candle's pool, sized by `RAYON_NUM_THREADS`).
    pub fn load(
        dir: &Path,
        format: WeightFormat,
        max_tokens: usize,
        threads: usize,
    ) -> Result<Encoder, EncoderError> {
        let start = Instant::now();
        let (model_path, tokenizer_path) = model_files(dir)?;
        let tokenizer = UnigramTokenizer::from_file(&tokenizer_path)
            .map_err(|e| EncoderError::Tokenizer(e.to_string()))?;
        let mut model = ModelFile::open(&model_path)?;
        let hidden = model.metadata_usize("bert.embedding_length")?;
        let n_layers = model.metadata_usize("bert.block_count")?;
        let heads = model.metadata_usize("bert.attention.head_count")?;
        let eps = model.layer_norm_eps();
        let embeddings = Embeddings::read(&mut model)?;
        // Layer by layer, so that only one layer is held in f32 besides what is kept.
        let mut f = |name: &str| model.dequantized(name);
        let read = (0..n_layers).map(|l| LayerTensors::read(&mut f, l));
        let (word, layers, bert) = if format == WeightFormat::Int8 {
            let bert = int8_bert(&embeddings, read, heads, eps as f32, threads)?;
            (None, Vec::new(), Some(bert))
        } else {
            (Some(embeddings.word), candle_layers(read, format)?, None)
        };
        Ok(Encoder {
            tokenizer,
            word,
            pos: embeddings.pos,
            token_type: embeddings.token_type,
            emb_ln: embeddings.ln,
            layers,
            bert,
            hidden,
            heads,
            eps,
            max_tokens,
            format,
            load_time: start.elapsed(),
        })
    }

    pub fn dim(&self) -> usize {
        self.hidden
    }

    /// Token ids with the e5 query prefix (passages keep their own), truncated to
    /// `max_tokens` (keeping the end mark).
    pub fn token_ids(&self, texts: &[&str]) -> Vec<Vec<u32>> {
        texts
            .iter()
            .map(|t| {
                let mut ids = if t.starts_with(PASSAGE_PREFIX) {
                    self.tokenizer.encode(t)
                } else {
                    self.tokenizer.encode(&format!("query: {t}"))
                };
                if ids.len() > self.max_tokens {
                    let eos = *ids.last().unwrap();
                    ids.truncate(self.max_tokens - 1);
                    ids.push(eos);
                }
                ids
            })
            .collect()
    }

    /// Tokenises with the e5 query prefix, truncated to `max_tokens`, padded to the longest.
    pub fn tokenize(&self, texts: &[&str]) -> Result<Batch, EncoderError> {
        let seqs = self.token_ids(texts);
        let len = seqs.iter().map(Vec::len).max().unwrap_or(0).max(1);
        let mut ids = Vec::with_capacity(texts.len() * len);
        let mut mask = Vec::with_capacity(texts.len() * len);
        for s in &seqs {
            ids.extend_from_slice(s);
            mask.extend(std::iter::repeat_n(1u32, s.len()));
            ids.extend(std::iter::repeat_n(PAD_ID, len - s.len()));
            mask.extend(std::iter::repeat_n(0u32, len - s.len()));
        }
        Ok(Batch {
            ids,
            mask,
            batch: texts.len(),
            len,
        })
    }

    /// L2-normalised sentence embeddings, one row of `dim()` floats per text.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EncoderError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(bert) = &self.bert {
            return Ok(bert.embed(&self.token_ids(texts)));
        }
        let batch = self.tokenize(texts)?;
        self.embed_batch(&batch)
    }

    fn embed_batch(&self, b: &Batch) -> Result<Vec<Vec<f32>>, EncoderError> {
        let dev = Device::Cpu;
        let (bs, len, h) = (b.batch, b.len, self.hidden);
        let ids = Tensor::from_slice(&b.ids, bs * len, &dev)?;
        let mask = Tensor::from_slice(&b.mask, (bs, len), &dev)?.to_dtype(DType::F32)?;
        let word = self
            .word
            .as_ref()
            .expect("the candle forward pass keeps the word embeddings");
        let mut x = word.embedding(&ids)?.reshape((bs, len, h))?;
        x = x
            .broadcast_add(&self.pos.narrow(0, 0, len)?)?
            .broadcast_add(&self.token_type.narrow(0, 0, 1)?)?;
        x = candle_nn::ops::layer_norm(&x, &self.emb_ln.0, &self.emb_ln.1, self.eps as f32)?;
        // Additive attention mask: 0 for tokens, a large negative number for padding.
        let bias = ((mask.clone() - 1.0)? * 1e9)?.reshape((bs, 1, 1, len))?;
        let hd = h / self.heads;
        let scale = 1.0 / (hd as f64).sqrt();
        for layer in &self.layers {
            let qkv = layer.qkv.forward(&x)?; // [bs, len, 3h]
            let split = |i: usize| -> candle_core::Result<Tensor> {
                qkv.narrow(D::Minus1, i * h, h)?
                    .reshape((bs, len, self.heads, hd))?
                    .transpose(1, 2)?
                    .contiguous()
            };
            let (q, k, v) = (split(0)?, split(1)?, split(2)?);
            let scores = (q.matmul(&k.t()?)? * scale)?.broadcast_add(&bias)?;
            let probs = candle_nn::ops::softmax_last_dim(&scores)?;
            let ctx = probs.matmul(&v)?.transpose(1, 2)?.reshape((bs, len, h))?;
            let attn = layer.attn_out.forward(&ctx)?;
            x = add_and_norm(&attn, &x, &layer.attn_ln, self.eps)?;
            let inner = gelu_erf(&layer.ffn_in.forward(&x)?)?;
            let out = layer.ffn_out.forward(&inner)?;
            x = add_and_norm(&out, &x, &layer.out_ln, self.eps)?;
        }
        // Mean pooling over the mask, then L2 normalisation.
        let m = mask.unsqueeze(2)?;
        let summed = x.broadcast_mul(&m)?.sum(1)?;
        let counts = m.sum(1)?;
        let mean = summed.broadcast_div(&counts)?;
        let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?;
        let out = mean.broadcast_div(&norm)?;
        Ok(out.to_vec2::<f32>()?)
    }

    /// Bytes held by the weights (the tokenizer is not counted).
    pub fn weight_bytes(&self) -> usize {
        if let Some(bert) = &self.bert {
            return bert.weight_bytes();
        }
        let lin = |l: &Linear| match &l.w {
            QMatMul::QTensor(t) => t.storage_size_in_bytes(),
            QMatMul::Tensor(t) | QMatMul::TensorF16(t) => {
                t.elem_count() * t.dtype().size_in_bytes()
            }
        };
        self.word.as_ref().map_or(0, |w| w.storage_size_in_bytes())
            + self
                .layers
                .iter()
                .map(|l| lin(&l.qkv) + lin(&l.attn_out) + lin(&l.ffn_in) + lin(&l.ffn_out))
                .sum::<usize>()
    }
}

const PAD_ID: u32 = 1;

/// The model and tokenizer files in `dir`, or which of them are missing.
fn model_files(dir: &Path) -> Result<(PathBuf, PathBuf), EncoderError> {
    let model = dir.join(MODEL_FILE);
    let tok = dir.join(TOKENIZER_FILE);
    let missing: Vec<&str> = [(MODEL_FILE, &model), (TOKENIZER_FILE, &tok)]
        .iter()
        .filter(|(_, p)| !p.exists())
        .map(|(n, _)| *n)
        .collect();
    if !missing.is_empty() {
        return Err(EncoderError::Missing {
            dir: dir.display().to_string(),
            missing: missing.join(", "),
        });
    }
    Ok((model, tok))
}

/// The GGUF model file: its header (metadata, tensor index) and the open file that tensors
/// are read from one at a time, so the whole file never sits in memory at once.
struct ModelFile {
    file: std::fs::File,
    content: gguf_file::Content,
}

impl ModelFile {
    fn open(path: &Path) -> Result<ModelFile, EncoderError> {
        let mut file = std::fs::File::open(path).map_err(|e| EncoderError::Load(e.to_string()))?;
        let content = gguf_file::Content::read(&mut file)
            .map_err(|e| EncoderError::Load(format!("{}: {e}", path.display())))?;
        Ok(ModelFile { file, content })
    }

    fn metadata_usize(&self, key: &str) -> Result<usize, EncoderError> {
        self.content
            .metadata
            .get(key)
            .and_then(|v| v.to_u32().ok())
            .map(|v| v as usize)
            .ok_or_else(|| EncoderError::Load(format!("metadata {key} missing")))
    }

    /// BERT's layer-norm epsilon; files that leave it out were made with BERT's default.
    fn layer_norm_eps(&self) -> f64 {
        self.content
            .metadata
            .get("bert.attention.layer_norm_epsilon")
            .and_then(|v| v.to_f32().ok())
            .unwrap_or(1e-12) as f64
    }

    /// A tensor as stored (quantized or not).
    fn stored(&mut self, name: &str) -> Result<QTensor, EncoderError> {
        Ok(self.content.tensor(&mut self.file, name, &Device::Cpu)?)
    }

    /// A tensor dequantized to f32.
    fn dequantized(&mut self, name: &str) -> Result<Tensor, EncoderError> {
        Ok(self.stored(name)?.dequantize(&Device::Cpu)?)
    }
}

/// The embedding tensors: word embeddings kept as stored (Q4_0, the largest matrix), the
/// rest in f32.
struct Embeddings {
    word: QTensor,
    pos: Tensor,
    token_type: Tensor,
    ln: (Tensor, Tensor),
}

impl Embeddings {
    fn read(model: &mut ModelFile) -> Result<Embeddings, EncoderError> {
        Ok(Embeddings {
            word: model.stored("embeddings.word_embeddings.weight")?,
            pos: model.dequantized("embeddings.position_embeddings.weight")?,
            token_type: model.dequantized("embeddings.token_type_embeddings.weight")?,
            ln: (
                model.dequantized("embeddings.LayerNorm.weight")?,
                model.dequantized("embeddings.LayerNorm.bias")?,
            ),
        })
    }
}

/// The layers for the candle forward pass, their linear weights in `format`.
fn candle_layers(
    read: impl Iterator<Item = Result<LayerTensors, EncoderError>>,
    format: WeightFormat,
) -> Result<Vec<Layer>, EncoderError> {
    read.map(|t| {
        let t = t?;
        Ok(Layer {
            qkv: linear(t.qkv.0, t.qkv.1, format)?,
            attn_out: linear(t.out.0, t.out.1, format)?,
            attn_ln: t.ln1,
            ffn_in: linear(t.ffn_in.0, t.ffn_in.1, format)?,
            ffn_out: linear(t.ffn_out.0, t.ffn_out.1, format)?,
            out_ln: t.ln2,
        })
    })
    .collect()
}

/// The int8 forward pass; it reads the Q4_0 word embeddings row by row itself, so it
/// refuses any other format of them.
fn int8_bert(
    embeddings: &Embeddings,
    read: impl Iterator<Item = Result<LayerTensors, EncoderError>>,
    heads: usize,
    eps: f32,
    threads: usize,
) -> Result<Bert, EncoderError> {
    let word = &embeddings.word;
    if word.dtype() != GgmlDType::Q4_0 {
        return Err(EncoderError::Load(format!(
            "word embeddings are {:?}, expected Q4_0",
            word.dtype()
        )));
    }
    let weights = read
        .map(|t| layer_weights(t?))
        .collect::<Result<Vec<_>, EncoderError>>()?;
    let (rows, width) = word.shape().dims2()?;
    let word_rows = Q4Rows {
        data: word.data()?.into_owned(),
        rows,
        width,
    };
    Ok(Bert::new(
        word_rows,
        floats(embeddings.pos.clone())?,
        floats(embeddings.token_type.narrow(0, 0, 1)?)?,
        float_pair(embeddings.ln.clone())?,
        weights,
        heads,
        eps,
        threads,
    ))
}

/// One layer's tensors as the int8 forward pass takes them: flat f32 vectors.
fn layer_weights(t: LayerTensors) -> Result<LayerWeights, EncoderError> {
    Ok(LayerWeights {
        qkv_w: floats(t.qkv.0)?,
        qkv_b: floats(t.qkv.1)?,
        out_w: floats(t.out.0)?,
        out_b: floats(t.out.1)?,
        ln1: float_pair(t.ln1)?,
        ffn_in_w: floats(t.ffn_in.0)?,
        ffn_in_b: floats(t.ffn_in.1)?,
        ffn_out_w: floats(t.ffn_out.0)?,
        ffn_out_b: floats(t.ffn_out.1)?,
        ln2: float_pair(t.ln2)?,
    })
}

fn floats(t: Tensor) -> Result<Vec<f32>, EncoderError> {
    Ok(t.flatten_all()?.to_vec1::<f32>()?)
}

fn float_pair((a, b): (Tensor, Tensor)) -> Result<(Vec<f32>, Vec<f32>), EncoderError> {
    Ok((floats(a)?, floats(b)?))
}

fn linear(w: Tensor, b: Tensor, format: WeightFormat) -> Result<Linear, EncoderError> {
    let dtype = match format {
        WeightFormat::F32 => {
            return Ok(Linear {
                w: QMatMul::Tensor(w),
                b,
                pad_to: None,
            });
        }
        WeightFormat::Q4_0 => GgmlDType::Q4_0,
        WeightFormat::Q8_0 | WeightFormat::Int8 => GgmlDType::Q8_0,
    };
    let (_, inp) = w.dims2()?;
    let padded = inp.div_ceil(256) * 256;
    let (w, pad_to) = if padded != inp {
        (w.pad_with_zeros(1, 0, padded - inp)?, Some(padded))
    } else {
        (w, None)
    };
    let q = QTensor::quantize(&w, dtype)?;
    Ok(Linear {
        w: QMatMul::from_qtensor(q)?,
        b,
        pad_to,
    })
}

/// GELU as BERT defines it, `0.5·x·(1 + erf(x/√2))`, with a vectorisable erf (Abramowitz &
/// Stegun 7.1.26 and a polynomial exp; absolute error below 5e-5, far under the Q8_0
/// quantisation noise) instead of a scalar libm call per element: candle's own
/// GELU spent about a seventh of the forward pass in `tanhf`/`expm1f`.
/// The residual connection and layer norm after attention and after the feed-forward part.
fn add_and_norm(
    update: &Tensor,
    residual: &Tensor,
    (weight, bias): &(Tensor, Tensor),
    eps: f64,
) -> candle_core::Result<Tensor> {
    candle_nn::ops::layer_norm(&(update + residual)?, weight, bias, eps as f32)
}

fn gelu_erf(x: &Tensor) -> candle_core::Result<Tensor> {
    let shape = x.shape().clone();
    let mut v = x.flatten_all()?.to_vec1::<f32>()?;
    for e in v.iter_mut() {
        *e = gelu_scalar(*e);
    }
    Tensor::from_vec(v, shape, x.device())
}

#[inline(always)]
pub(crate) fn gelu_scalar(x: f32) -> f32 {
    let z = x * std::f32::consts::FRAC_1_SQRT_2;
    let a = z.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152_1 + t * 1.061_405_4))));
    let erf_abs = 1.0 - poly * fast_exp(-a * a);
    let erf = if z < 0.0 { -erf_abs } else { erf_abs };
    0.5 * x * (1.0 + erf)
}

/// exp(x) for x ≤ 0 via 2^x with a degree-5 polynomial (relative error below 2e-4); branch-free so
/// the loop above vectorises.
#[inline(always)]
pub(crate) fn fast_exp(x: f32) -> f32 {
    let y = x * std::f32::consts::LOG2_E;
    // Comparisons rather than f32::max/min (which handle NaN with extra blends): NaN and
    // anything below 2^-126 become -126, anything above 0 becomes 0.
    let y = if y > -126.0 { y } else { -126.0 };
    let y = if y < 0.0 { y } else { 0.0 };
    let i = y.floor();
    let f = y - i;
    let p = 1.0
        + f * (std::f32::consts::LN_2
            + f * (0.240_226_5 + f * (0.055_504_11 + f * (0.009_618_129 + f * 0.001_333_355_8))));
    // SAFETY: i is an integer in -126..=0.
    let e = unsafe { i.to_int_unchecked::<i32>() };
    f32::from_bits(((e + 127) as u32) << 23) * p
}

/// Cosine similarity of two L2-normalised vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    // Eight running sums instead of one: independent additions the CPU can overlap (and
    // the compiler can vectorise). Fitting the fusion weights at every content reload does
    // about half a billion of these multiplications.
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gelu_matches_the_exact_definition() {
        for i in -400..=400 {
            let x = i as f32 / 100.0;
            let exact = 0.5 * x as f64 * (1.0 + erf(x as f64 / std::f64::consts::SQRT_2));
            assert!(
                (gelu_scalar(x) as f64 - exact).abs() < 5e-5,
                "x={x}: {} vs {exact}",
                gelu_scalar(x)
            );
        }
    }

    #[test]
    fn fast_exp_is_close_to_exp() {
        for i in 0..=9000 {
            let x = -(i as f32) / 100.0;
            let (got, want) = (fast_exp(x) as f64, (x as f64).exp());
            assert!(
                (got - want).abs() <= 2e-4 * want + 1e-37,
                "x={x}: {got} vs {want}"
            );
        }
        assert_eq!(fast_exp(f32::NAN), fast_exp(-1000.0));
    }

    /// erf by its Maclaurin series (enough terms for |x| <= 6).
    fn erf(x: f64) -> f64 {
        if x.abs() > 5.8 {
            return x.signum();
        }
        let mut sum = 0.0;
        let mut term = x;
        for n in 0..200 {
            sum += term / (2 * n + 1) as f64;
            term *= -x * x / (n + 1) as f64;
        }
        2.0 / std::f64::consts::PI.sqrt() * sum
    }
}
