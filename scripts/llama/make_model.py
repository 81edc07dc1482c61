#!/usr/bin/env python3
"""Write a tiny random-weight llama-architecture GGUF with GPT-2's BPE vocabulary.

The vocabulary (every tokenizer.* key) is copied from llama.cpp's vocab-only
file models/ggml-vocab-gpt-2.gguf; the weights are seeded random numbers
(normal * 0.02, norms = 1), so the file is the same on every run.

    python make_model.py --vocab vendor/llama.cpp/models/ggml-vocab-gpt-2.gguf --out tiny.gguf

Needs numpy and the `gguf` package (the vendored gguf-py on PYTHONPATH works).
"""
import argparse

import numpy as np
import gguf
from gguf import GGUFReader, GGUFValueType, GGUFWriter


def copy_tokenizer_keys(reader: GGUFReader, writer: GGUFWriter) -> int:
    n_vocab = 0
    for name, field in reader.fields.items():
        if not name.startswith("tokenizer."):
            continue
        main = field.types[0]
        value = field.contents()
        if main == GGUFValueType.ARRAY:
            sub = field.types[-1]
            if sub == GGUFValueType.STRING:
                value = [str(v) for v in value]
            else:
                value = [v.item() if hasattr(v, "item") else v for v in value]
            writer.add_key_value(name, value, main, sub_type=sub)
            if name == "tokenizer.ggml.tokens":
                n_vocab = len(value)
        else:
            if hasattr(value, "item"):
                value = value.item()
            writer.add_key_value(name, value, main)
    return n_vocab


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vocab", required=True, help="vocab-only GGUF (ggml-vocab-gpt-2.gguf)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--n-layer", type=int, default=2)
    ap.add_argument("--n-embd", type=int, default=64)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--n-ff", type=int, default=128)
    ap.add_argument("--n-ctx", type=int, default=32768, help="training context length written to the model")
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()

    reader = GGUFReader(args.vocab)
    w = GGUFWriter(args.out, "llama")
    w.add_name("servebench-tiny-random-llama")
    w.add_description("random weights (seeded) for benchmarking tests; output is gibberish")
    n_vocab = copy_tokenizer_keys(reader, w)
    if n_vocab == 0:
        raise SystemExit(f"{args.vocab}: no tokenizer.ggml.tokens")
    # The prompt must count exactly as built by the client (no BOS/EOS added),
    # whatever llama.cpp's default for this vocabulary type is.
    w.add_add_bos_token(False)
    w.add_add_eos_token(False)

    head_dim = args.n_embd // args.n_head
    w.add_context_length(args.n_ctx)
    w.add_embedding_length(args.n_embd)
    w.add_block_count(args.n_layer)
    w.add_feed_forward_length(args.n_ff)
    w.add_head_count(args.n_head)
    w.add_head_count_kv(args.n_head)
    w.add_rope_dimension_count(head_dim)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(n_vocab)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)

    rng = np.random.default_rng(args.seed)

    def mat(rows: int, cols: int) -> np.ndarray:
        # numpy (rows, cols) is ggml ne = [cols, rows]: y = W x with x of size cols.
        return (rng.standard_normal((rows, cols), dtype=np.float32) * 0.02).astype(np.float16)

    def ones(n: int) -> np.ndarray:
        return np.ones(n, dtype=np.float32)

    e, ff = args.n_embd, args.n_ff
    w.add_tensor("token_embd.weight", mat(n_vocab, e))
    for i in range(args.n_layer):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", ones(e))
        w.add_tensor(p + "attn_q.weight", mat(e, e))
        w.add_tensor(p + "attn_k.weight", mat(e, e))
        w.add_tensor(p + "attn_v.weight", mat(e, e))
        w.add_tensor(p + "attn_output.weight", mat(e, e))
        w.add_tensor(p + "ffn_norm.weight", ones(e))
        w.add_tensor(p + "ffn_gate.weight", mat(ff, e))
        w.add_tensor(p + "ffn_up.weight", mat(ff, e))
        w.add_tensor(p + "ffn_down.weight", mat(e, ff))
    w.add_tensor("output_norm.weight", ones(e))
    w.add_tensor("output.weight", mat(n_vocab, e))

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"wrote {args.out}: llama, {args.n_layer} layers, n_embd {e}, {args.n_head} heads, "
          f"n_ff {ff}, n_vocab {n_vocab}, n_ctx {args.n_ctx}")


if __name__ == "__main__":
    main()
