//! The dataset generator (`servebench gen-dataset`, like `generate_dataset.py`).
//!
//! Input and output lengths follow normal distributions truncated to
//! `[min, max]`; each prompt is built by [`PromptSynth`] to its exact input
//! length under the tokenizer, with a leading segment unique to the request so
//! that no two prompts share a prefix. The result is written as JSON that
//! `--dataset-type custom` reads back: servebench's shape ([`write_dataset`])
//! or, with `--format seed`, the seed's `generate_dataset.py` shape
//! ([`write_seed_dataset`], with output texts from [`generate_outputs`]).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

use super::{PromptError, PromptSynth, Tokenizer};

/// What to generate. Field names follow the command-line flags
/// (`--min-input`, `--avg-input`, `--std-input`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateSpec {
    /// Shortest prompt, in tokens (at least 1).
    pub min_input: usize,
    /// Longest prompt, in tokens.
    pub max_input: usize,
    /// Mean of the input-length normal distribution (before truncation).
    pub avg_input: f64,
    /// Standard deviation of the input length; 0 makes it constant.
    pub std_input: f64,
    /// Shortest output, in tokens (at least 1).
    pub min_output: usize,
    /// Longest output, in tokens.
    pub max_output: usize,
    /// Mean of the output-length normal distribution (before truncation).
    pub avg_output: f64,
    /// Standard deviation of the output length; 0 makes it constant.
    pub std_output: f64,
    /// Number of requests to generate (at least 1).
    pub num_requests: usize,
    /// Seed: the same spec and tokenizer give the same file.
    pub seed: u64,
}

/// One generated request; also the entry of the custom dataset format.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GeneratedRequest {
    /// The prompt, exactly `input_tokens` tokens long.
    pub prompt: String,
    /// Token count of `prompt` under the generating tokenizer.
    #[serde(alias = "input_len")]
    pub input_tokens: usize,
    /// Output length to ask for.
    #[serde(alias = "output_len")]
    pub output_tokens: usize,
}

/// File formats `servebench gen-dataset --format` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum GenFormat {
    /// servebench's shape, one object per line:
    /// `{"prompt", "input_tokens", "output_tokens"}` ([`write_dataset`]).
    #[default]
    Servebench,
    /// The seed's `generate_dataset.py` shape, one JSON array on one line:
    /// `{"input", "output", "instruction": "NA"}` ([`write_seed_dataset`]).
    Seed,
}

/// Errors of the generator.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// The spec is inconsistent; the message names the flag at fault.
    #[error("{0}")]
    InvalidSpec(String),
    /// A prompt could not be built.
    #[error("request {index}: {source}")]
    Prompt {
        /// Index of the request.
        index: usize,
        /// The cause.
        source: PromptError,
    },
    /// The output file could not be written.
    #[error("dataset {}: cannot write: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl GenerateSpec {
    /// Every prompt `input` tokens, every output `output` (no spread); one
    /// request, seed 0.
    pub fn constant(input: usize, output: usize) -> Self {
        GenerateSpec {
            min_input: input,
            max_input: input,
            avg_input: input as f64,
            std_input: 0.0,
            min_output: output,
            max_output: output,
            avg_output: output as f64,
            std_output: 0.0,
            num_requests: 1,
            seed: 0,
        }
    }

    /// Check the spec; the error names the flag at fault.
    pub fn validate(&self) -> Result<(), GenerateError> {
        if self.num_requests == 0 {
            return invalid("--num-requests must be at least 1".into());
        }
        let sides = [
            (
                "input",
                self.min_input,
                self.max_input,
                self.avg_input,
                self.std_input,
            ),
            (
                "output",
                self.min_output,
                self.max_output,
                self.avg_output,
                self.std_output,
            ),
        ];
        for (side, min, max, avg, std) in sides {
            if min == 0 {
                return invalid(format!("--min-{side} must be at least 1 token"));
            }
            if min > max {
                return invalid(format!(
                    "--min-{side} {min} is greater than --max-{side} {max}"
                ));
            }
            if !avg.is_finite() || avg < min as f64 || avg > max as f64 {
                return invalid(format!(
                    "--avg-{side} {avg} is outside [--min-{side} {min}, --max-{side} {max}]"
                ));
            }
            if !std.is_finite() || std < 0.0 {
                return invalid(format!(
                    "--std-{side} must be a finite number >= 0, got {std}"
                ));
            }
        }
        Ok(())
    }
}

fn invalid<T>(msg: String) -> Result<T, GenerateError> {
    Err(GenerateError::InvalidSpec(msg))
}

/// Draws before falling back to clamping, per length.
const MAX_REJECTIONS: usize = 1000;

/// A length from Normal(avg, std) rounded to an integer and truncated to
/// `[min, max]` by rejection: out-of-range draws are redrawn. After
/// [`MAX_REJECTIONS`] draws in a row out of range (only when `std` is huge
/// next to the range) the last draw is clamped to the range instead.
/// `std == 0` gives `round(avg)` every time.
fn draw_length<R: rand::Rng>(
    min: usize,
    max: usize,
    normal: Option<&Normal<f64>>,
    avg: f64,
    rng: &mut R,
) -> usize {
    let Some(normal) = normal else {
        return (avg.round() as usize).clamp(min, max);
    };
    let mut x = avg;
    for _ in 0..MAX_REJECTIONS {
        x = normal.sample(rng).round();
        if x >= min as f64 && x <= max as f64 {
            return x as usize;
        }
    }
    x.clamp(min as f64, max as f64) as usize
}

/// Input and output lengths of every request, from one RNG seeded by `seed`.
fn draw_lengths(spec: &GenerateSpec) -> Vec<(usize, usize)> {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let normal =
        |avg: f64, std: f64| (std > 0.0).then(|| Normal::new(avg, std).expect("validated"));
    let n_in = normal(spec.avg_input, spec.std_input);
    let n_out = normal(spec.avg_output, spec.std_output);
    (0..spec.num_requests)
        .map(|_| {
            let i = draw_length(
                spec.min_input,
                spec.max_input,
                n_in.as_ref(),
                spec.avg_input,
                &mut rng,
            );
            let o = draw_length(
                spec.min_output,
                spec.max_output,
                n_out.as_ref(),
                spec.avg_output,
                &mut rng,
            );
            (i, o)
        })
        .collect()
}

/// Requests per unit of parallel work (fixed, so output does not depend on
/// the number of threads).
const CHUNK: usize = 64;

/// Seed of a chunk's word RNG, derived from the run seed and chunk index.
fn chunk_seed(seed: u64, chunk: usize) -> u64 {
    // SplitMix64 finaliser over the pair: distinct, well-mixed streams.
    let mut z = seed ^ (chunk as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Generate the requests of `spec` with prompts exact under `tok`.
///
/// Lengths are drawn first from one RNG seeded by `spec.seed`; prompts are
/// then built in parallel (one thread per core) over fixed chunks of 64
/// requests, each chunk with its own RNG derived from the seed and the chunk
/// index, so the output is the same whatever the number of threads. Request
/// `i`'s prompt uses `i` as its unique id.
pub fn generate(
    spec: &GenerateSpec,
    tok: &Tokenizer,
) -> Result<Vec<GeneratedRequest>, GenerateError> {
    spec.validate()?;
    let synth =
        PromptSynth::new(tok).map_err(|source| GenerateError::Prompt { index: 0, source })?;
    let lengths = draw_lengths(spec);
    let inputs: Vec<usize> = lengths.iter().map(|&(i, _)| i).collect();
    let prompts = build_texts(&synth, &inputs, spec.seed, 0, true)?;
    Ok(prompts
        .into_iter()
        .zip(lengths)
        .map(|(prompt, (input_tokens, output_tokens))| GeneratedRequest {
            prompt,
            input_tokens,
            output_tokens,
        })
        .collect())
}

/// Salt of the RNG streams of output texts (distinct from the prompts').
const OUTPUT_STREAM: u64 = 0x6f75_7470_7574;

/// Output texts for `requests` (generated from `spec`): text `i` is exactly
/// `requests[i].output_tokens` tokens long under `tok` (random words, no
/// unique segment), as the seed's `generate_str` makes the `output` field of
/// `generate_dataset.py`. Seeded by `spec.seed`, on a stream of its own, so
/// the prompts are the same with or without outputs.
pub fn generate_outputs(
    spec: &GenerateSpec,
    requests: &[GeneratedRequest],
    tok: &Tokenizer,
) -> Result<Vec<String>, GenerateError> {
    let synth =
        PromptSynth::new(tok).map_err(|source| GenerateError::Prompt { index: 0, source })?;
    let lengths: Vec<usize> = requests.iter().map(|r| r.output_tokens).collect();
    build_texts(&synth, &lengths, spec.seed, OUTPUT_STREAM, false)
}

/// Texts of exactly `lengths[i]` tokens, built in parallel (one thread per
/// core) over fixed chunks of [`CHUNK`] texts, each chunk with its own RNG
/// derived from `seed`, the chunk index and `stream`, so the result does not
/// depend on the number of threads. With `unique`, text `i` opens with the
/// unique segment of id `i`.
fn build_texts(
    synth: &PromptSynth,
    lengths: &[usize],
    seed: u64,
    stream: u64,
    unique: bool,
) -> Result<Vec<String>, GenerateError> {
    let chunks: Vec<&[usize]> = lengths.chunks(CHUNK).collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(chunks.len());
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, Result<Vec<String>, GenerateError>)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let c = next.fetch_add(1, Ordering::Relaxed);
                        let Some(chunk) = chunks.get(c) else { break };
                        let mut rng = StdRng::seed_from_u64(chunk_seed(seed, c) ^ stream);
                        let texts = chunk
                            .iter()
                            .enumerate()
                            .map(|(k, &n)| {
                                let index = c * CHUNK + k;
                                let id = unique.then_some(index as u64);
                                synth
                                    .prompt(n, id, &mut rng)
                                    .map_err(|source| GenerateError::Prompt { index, source })
                            })
                            .collect();
                        out.push((c, texts));
                    }
                    out
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("generator thread panicked"))
            .collect()
    });
    done.sort_by_key(|(c, _)| *c);
    let mut out = Vec::with_capacity(lengths.len());
    for (_, texts) in done {
        out.extend(texts?);
    }
    Ok(out)
}

/// Write `requests` as a custom dataset file.
///
/// The format, read back by `load_dataset(.., DatasetType::Custom, ..)`, is
/// a JSON array with one object per line:
///
/// ```json
/// [
/// {"prompt":"...","input_tokens":1800,"output_tokens":256},
/// {"prompt":"...","input_tokens":1742,"output_tokens":301}
/// ]
/// ```
///
/// `prompt` is the prompt text, `input_tokens` its token count under the
/// generating tokenizer, `output_tokens` the output length to force. On read,
/// `input_len` / `output_len` are accepted as aliases and the prompt is
/// re-counted with the run's tokenizer.
pub fn write_dataset(
    path: impl AsRef<Path>,
    requests: &[GeneratedRequest],
) -> Result<(), GenerateError> {
    let path = path.as_ref();
    let io_err = |source| GenerateError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::create(path).map_err(io_err)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut write = || -> std::io::Result<()> {
        w.write_all(b"[\n")?;
        for (i, r) in requests.iter().enumerate() {
            if i > 0 {
                w.write_all(b",\n")?;
            }
            serde_json::to_writer(&mut w, r)?;
        }
        w.write_all(b"\n]\n")?;
        w.flush()
    };
    write().map_err(io_err)
}

/// Write `requests` with their output texts as the seed's
/// `generate_dataset.py` writes its file: one JSON array on one line, no
/// indent, Python's `json.dump` separators, of
///
/// ```json
/// [{"input": "...", "output": "...", "instruction": "NA"}, {"input": "...", "output": "...", "instruction": "NA"}]
/// ```
///
/// `input` is the prompt and `output` a text whose token count is the output
/// length (`outputs[i]`, from [`generate_outputs`]). The seed's
/// `benchmark_serving.py --dataset-type custom` and servebench's
/// `--dataset-type custom` read it. Unlike Python's `json.dump`, non-ASCII
/// characters are written as UTF-8, not `\u` escapes (the texts are the same
/// once parsed). The file is replaced if it exists.
pub fn write_seed_dataset(
    path: impl AsRef<Path>,
    requests: &[GeneratedRequest],
    outputs: &[String],
) -> Result<(), GenerateError> {
    let path = path.as_ref();
    if requests.len() != outputs.len() {
        return invalid(format!(
            "{} requests but {} output texts",
            requests.len(),
            outputs.len()
        ));
    }
    let io_err = |source| GenerateError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::create(path).map_err(io_err)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut write = || -> std::io::Result<()> {
        w.write_all(b"[")?;
        for (i, (r, o)) in requests.iter().zip(outputs).enumerate() {
            if i > 0 {
                w.write_all(b", ")?;
            }
            w.write_all(b"{\"input\": ")?;
            serde_json::to_writer(&mut w, &r.prompt)?;
            w.write_all(b", \"output\": ")?;
            serde_json::to_writer(&mut w, o)?;
            w.write_all(b", \"instruction\": \"NA\"}")?;
        }
        w.write_all(b"]")?;
        w.flush()
    };
    write().map_err(io_err)
}

/// Read a file written by [`write_dataset`] as it is (no tokenizer, no
/// filter). For benchmarking, use `load_dataset` with `DatasetType::Custom`.
pub fn read_generated(
    path: impl AsRef<Path>,
) -> Result<Vec<GeneratedRequest>, super::DatasetError> {
    let path = path.as_ref();
    let mut out = Vec::new();
    super::dataset::for_each_entry(path, |_, r: GeneratedRequest| {
        out.push(r);
        Ok(())
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> GenerateSpec {
        GenerateSpec {
            min_input: 100,
            max_input: 2000,
            avg_input: 800.0,
            std_input: 200.0,
            min_output: 10,
            max_output: 500,
            avg_output: 120.0,
            std_output: 60.0,
            num_requests: 10,
            seed: 42,
        }
    }

    #[test]
    fn invalid_specs_name_the_flag() {
        type Edit = fn(&mut GenerateSpec);
        let cases: [(Edit, &str); 9] = [
            (
                |s| (s.min_input, s.max_input) = (200, 100),
                "--min-input 200 is greater than --max-input 100",
            ),
            (
                |s| s.min_output = 600,
                "--min-output 600 is greater than --max-output 500",
            ),
            (
                |s| s.avg_input = 50.0,
                "--avg-input 50 is outside [--min-input 100, --max-input 2000]",
            ),
            (|s| s.avg_output = f64::NAN, "--avg-output NaN is outside"),
            (
                |s| s.std_input = -1.0,
                "--std-input must be a finite number >= 0, got -1",
            ),
            (
                |s| s.std_output = f64::INFINITY,
                "--std-output must be a finite number",
            ),
            (|s| s.min_input = 0, "--min-input must be at least 1"),
            (|s| s.min_output = 0, "--min-output must be at least 1"),
            (|s| s.num_requests = 0, "--num-requests must be at least 1"),
        ];
        let tok = Tokenizer::default_embedded();
        for (edit, needle) in cases {
            let mut s = spec();
            edit(&mut s);
            let msg = s.validate().unwrap_err().to_string();
            assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
            assert!(generate(&s, &tok).is_err());
        }
        assert!(spec().validate().is_ok());
    }

    #[test]
    fn constant_and_clamped_lengths() {
        let s = GenerateSpec {
            min_input: 50,
            max_input: 50,
            avg_input: 50.0,
            std_input: 0.0,
            min_output: 7,
            max_output: 9,
            avg_output: 8.0,
            std_output: 1e9, // almost every draw rejected: falls back to clamping
            num_requests: 200,
            seed: 1,
        };
        let lengths = draw_lengths(&s);
        assert!(lengths
            .iter()
            .all(|&(i, o)| i == 50 && (7..=9).contains(&o)));
        let tok = Tokenizer::default_embedded();
        let reqs = generate(
            &GenerateSpec {
                num_requests: 70,
                ..s
            },
            &tok,
        )
        .unwrap();
        assert!(reqs.iter().all(|r| tok.count(&r.prompt) == 50));
    }

    #[test]
    fn seed_file_has_the_seed_tools_layout() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("seed.json");
        let reqs = [
            GeneratedRequest {
                prompt: "a \"b\"".into(),
                input_tokens: 3,
                output_tokens: 2,
            },
            GeneratedRequest {
                prompt: "c".into(),
                input_tokens: 1,
                output_tokens: 1,
            },
        ];
        write_seed_dataset(&p, &reqs, &["x y".into(), "z".into()]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            r#"[{"input": "a \"b\"", "output": "x y", "instruction": "NA"}, {"input": "c", "output": "z", "instruction": "NA"}]"#
        );
        let e = write_seed_dataset(&p, &reqs, &[]).unwrap_err().to_string();
        assert_eq!(e, "2 requests but 0 output texts");
    }

    #[test]
    fn chunk_seeds_differ() {
        let seeds: std::collections::HashSet<_> = (0..1000).map(|c| chunk_seed(7, c)).collect();
        assert_eq!(seeds.len(), 1000);
        assert_ne!(chunk_seed(7, 0), chunk_seed(8, 0));
    }
}
