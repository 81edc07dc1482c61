//! Trains the small byte-level BPE tokenizer that ships in `assets/tokenizer.json`.
//!
//! ```text
//! cargo run --release --example train_tokenizer -- assets/tokenizer.json /usr/share/common-licenses/*
//! ```
//!
//! The corpus is the set of licence texts that every Debian system carries
//! under `/usr/share/common-licenses` (plain English prose); any text files
//! will do. Training is deterministic for a given corpus.

use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
use tokenizers::normalizers::unicode::NFC;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{AddedToken, TokenizerBuilder};

fn main() -> tokenizers::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args
        .next()
        .ok_or("usage: train_tokenizer OUT.json CORPUS_FILE...")?;
    let mut files: Vec<String> = args.collect();
    files.sort();
    if files.is_empty() {
        return Err("usage: train_tokenizer OUT.json CORPUS_FILE...".into());
    }
    let mut trainer = BpeTrainerBuilder::new()
        .show_progress(false)
        .vocab_size(4096)
        .min_frequency(2)
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .special_tokens(vec![AddedToken::from("<|endoftext|>", true)])
        .build();
    let byte_level = ByteLevel::new(false, true, true);
    let mut tokenizer = TokenizerBuilder::new()
        .with_model(BPE::default())
        .with_normalizer(Some(NFC))
        .with_pre_tokenizer(Some(byte_level))
        .with_post_processor(Some(byte_level))
        .with_decoder(Some(byte_level))
        .build()?;
    tokenizer
        .train_from_files(&mut trainer, files)?
        .save(&out, false)?;
    println!("wrote {out}");
    Ok(())
}
