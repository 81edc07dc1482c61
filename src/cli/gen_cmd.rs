//! `servebench gen-dataset`: the dataset generator of `generate_dataset.py`.

use std::path::PathBuf;
use std::time::Instant;

use super::CliError;
use crate::workload::{
    generate, generate_outputs, write_dataset, write_seed_dataset, GenFormat, GenerateSpec,
    Tokenizer,
};

/// Flags of `servebench gen-dataset`.
#[derive(Debug, Clone, clap::Args)]
pub struct GenArgs {
    /// Output file (JSON read by `serving --dataset-type custom`).
    #[arg(long)]
    pub dataset: PathBuf,
    /// File layout: servebench ({"prompt", "input_tokens", "output_tokens"},
    /// one per line) or seed (the seed's generate_dataset.py: one JSON array
    /// of {"input", "output", "instruction": "NA"}, output a text of the
    /// output length).
    #[arg(long, value_enum, default_value_t = GenFormat::Servebench)]
    pub format: GenFormat,
    /// Hugging Face tokenizer.json, a directory holding one, or a hub id
    /// already in the local Hugging Face cache (default: embedded).
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// Shortest prompt, tokens.
    #[arg(long, default_value_t = 128)]
    pub min_input: usize,
    /// Longest prompt, tokens.
    #[arg(long, default_value_t = 4096)]
    pub max_input: usize,
    /// Mean prompt length (normal distribution truncated to [min, max]).
    #[arg(long, allow_negative_numbers = true, default_value_t = 1800.0)]
    pub avg_input: f64,
    /// Standard deviation of the prompt length (0 = constant).
    #[arg(long, allow_negative_numbers = true, default_value_t = 500.0)]
    pub std_input: f64,
    /// Shortest output, tokens.
    #[arg(long, default_value_t = 16)]
    pub min_output: usize,
    /// Longest output, tokens.
    #[arg(long, default_value_t = 1024)]
    pub max_output: usize,
    /// Mean output length.
    #[arg(long, allow_negative_numbers = true, default_value_t = 256.0)]
    pub avg_output: f64,
    /// Standard deviation of the output length (0 = constant).
    #[arg(long, allow_negative_numbers = true, default_value_t = 100.0)]
    pub std_output: f64,
    /// Number of requests.
    #[arg(long, default_value_t = 1000)]
    pub num_requests: usize,
    /// Seed: same flags and tokenizer, same file.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl GenArgs {
    /// The generator's spec.
    pub fn spec(&self) -> GenerateSpec {
        GenerateSpec {
            min_input: self.min_input,
            max_input: self.max_input,
            avg_input: self.avg_input,
            std_input: self.std_input,
            min_output: self.min_output,
            max_output: self.max_output,
            avg_output: self.avg_output,
            std_output: self.std_output,
            num_requests: self.num_requests,
            seed: self.seed,
        }
    }
}

/// Generate and write the dataset; returns the number of requests written.
pub fn run_gen_cmd(a: &GenArgs) -> Result<usize, CliError> {
    let spec = a.spec();
    spec.validate()?;
    let tok = Tokenizer::load(a.tokenizer.as_deref())?;
    let t0 = Instant::now();
    let reqs = generate(&spec, &tok)?;
    let gen_s = t0.elapsed().as_secs_f64();
    match a.format {
        GenFormat::Servebench => write_dataset(&a.dataset, &reqs)?,
        GenFormat::Seed => {
            let outputs = generate_outputs(&spec, &reqs, &tok)?;
            write_seed_dataset(&a.dataset, &reqs, &outputs)?;
        }
    }
    let tokens: usize = reqs.iter().map(|r| r.input_tokens).sum();
    eprintln!(
        "wrote {} requests ({} prompt tokens) to {} in {:.2} s (generation {:.2} s)",
        reqs.len(),
        tokens,
        a.dataset.display(),
        t0.elapsed().as_secs_f64(),
        gen_s
    );
    Ok(reqs.len())
}
