#!/usr/bin/env python3
"""Write (and check) a HuggingFace tokenizer.json for a GGUF's GPT-2 style BPE vocabulary.

Write, checking against llama.cpp's own expected token ids for its test texts:
    python make_tokenizer.py --vocab ggml-vocab-gpt-2.gguf --out tokenizer.json \\
        --check ggml-vocab-gpt-2.gguf.inp ggml-vocab-gpt-2.gguf.out

Check an existing file against a running llama-server (POST /tokenize and
usage.prompt_tokens of /v1/completions):
    python make_tokenizer.py --tokenizer tokenizer.json --server http://127.0.0.1:8080

The file is a ByteLevel BPE (what GPT-2's own tokenizer.json is): vocab from
tokenizer.ggml.tokens, merges from tokenizer.ggml.merges, ByteLevel
pre-tokenizer (GPT-2 regex, no prefix space) and decoder, the control tokens
as special added tokens. Writing needs the `gguf` package (or the vendored
gguf-py on PYTHONPATH); checking needs `tokenizers`.
"""
import argparse
import json
import random
import sys
import urllib.request

TOKEN_TYPE_CONTROL = 3
TOKEN_TYPE_USER_DEFINED = 4


def build(vocab_path: str) -> dict:
    from gguf import GGUFReader

    r = GGUFReader(vocab_path)

    def get(key):
        f = r.get_field(key)
        return None if f is None else f.contents()

    model = get("tokenizer.ggml.model")
    if model != "gpt2":
        raise SystemExit(f"{vocab_path}: tokenizer.ggml.model is {model!r}, not a GPT-2 style BPE")
    tokens = [str(t) for t in get("tokenizer.ggml.tokens")]
    types = [int(t) for t in (get("tokenizer.ggml.token_type") or [1] * len(tokens))]
    merges = [str(m) for m in get("tokenizer.ggml.merges")]
    for m in merges:
        if m.count(" ") != 1:
            raise SystemExit(f"unexpected merge {m!r}")
    added = [
        {
            "id": i,
            "content": t,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": ty == TOKEN_TYPE_CONTROL,
        }
        for i, (t, ty) in enumerate(zip(tokens, types))
        if ty in (TOKEN_TYPE_CONTROL, TOKEN_TYPE_USER_DEFINED)
    ]
    byte_level = {"add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", **byte_level},
        "post_processor": {"type": "ByteLevel", **byte_level, "trim_offsets": False},
        "decoder": {"type": "ByteLevel", **byte_level},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": "",
            "end_of_word_suffix": "",
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": {t: i for i, t in enumerate(tokens)},
            "merges": merges,
        },
    }


def check_reference(tok, inp: str, out: str) -> None:
    """llama.cpp's test vectors: texts separated by __ggml_vocab_test__, ids one line each."""
    with open(inp, encoding="utf-8") as f:
        texts = f.read().split("\n__ggml_vocab_test__\n")
    with open(out, encoding="utf-8") as f:
        expected = f.read().split("\n")
    bad = 0
    for i, text in enumerate(texts):
        if i >= len(expected):
            break
        want = [int(x) for x in expected[i].split()]
        got = tok.encode(text, add_special_tokens=False).ids
        if got != want:
            bad += 1
            print(f"reference mismatch for {text!r}: got {got} want {want}", file=sys.stderr)
    if bad:
        raise SystemExit(f"{bad} of {len(texts)} llama.cpp reference texts tokenize differently")
    print(f"tokenizer.json matches llama.cpp's ids on {len(texts)} reference texts")


def post(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.load(resp)


def sample_texts(tok, n: int, seed: int = 7) -> list:
    rng = random.Random(seed)
    texts = [
        "Hello world",
        " Hello, world! 123 4567",
        "The quick brown fox jumps over the lazy dog.\n\nNew paragraph\twith tab.",
        "Äpfel, naïve café, 東京, emoji 🦙🚀, Ελληνικά",
        "   leading spaces and trailing   ",
        "code: fn main() { println!(\"{}\", x[0] + y_1); } // done",
        "I'm you're they've we'll it'd 'quoted' ",
    ]
    vocab_size = tok.get_vocab_size()
    for _ in range(n):
        # random ids decoded to text: what a benchmark's synthetic prompt looks like
        ids = [rng.randrange(0, vocab_size - 1) for _ in range(rng.randrange(16, 600))]
        texts.append(tok.decode(ids))
    return texts


def check_server(tok, server: str) -> None:
    texts = sample_texts(tok, 20)
    bad = 0
    for text in texts:
        ours = tok.encode(text, add_special_tokens=False).ids
        theirs = post(server + "/tokenize", {"content": text})["tokens"]
        if ours != theirs:
            bad += 1
            print(f"/tokenize mismatch ({len(ours)} vs {len(theirs)} tokens) for {text[:60]!r}", file=sys.stderr)
    # The property a benchmark needs: a prompt of N tokens is N prompt tokens at the server.
    words = [w for w, i in tok.get_vocab().items()
             if len(w) > 2 and w[0] == "\u0120" and w[1:].isascii() and w[1:].isalpha()]
    words.sort()
    rng = random.Random(11)
    rng.shuffle(words)
    # " word" tokens that encode to themselves: a prompt of n of them is n tokens
    words = [w for w in words[:2000] if len(tok.encode(" " + w[1:], add_special_tokens=False).ids) == 1]
    for n in (1, 17, 512):
        prompt = "".join(" " + rng.choice(words)[1:] for _ in range(n))
        assert len(tok.encode(prompt, add_special_tokens=False).ids) == n
        usage = post(server + "/v1/completions", {"prompt": prompt, "max_tokens": 1, "temperature": 0})["usage"]
        if usage["prompt_tokens"] != n:
            bad += 1
            print(f"usage.prompt_tokens {usage['prompt_tokens']} for a prompt of {n} tokens", file=sys.stderr)
    if bad:
        raise SystemExit(f"{bad} mismatches against {server}")
    print(f"tokenizer.json matches {server}/tokenize on {len(texts)} texts; usage.prompt_tokens == N for N in 1, 17, 512")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vocab", help="GGUF with a gpt2 tokenizer (vocab-only is fine)")
    ap.add_argument("--out", help="tokenizer.json to write")
    ap.add_argument("--tokenizer", help="existing tokenizer.json to check (default: --out)")
    ap.add_argument("--check", nargs=2, metavar=("INP", "OUT"), help="llama.cpp test vectors (.inp, .out)")
    ap.add_argument("--server", help="llama-server base URL to compare /tokenize with")
    args = ap.parse_args()

    path = args.tokenizer or args.out
    if args.vocab:
        if not args.out:
            ap.error("--vocab needs --out")
        data = build(args.vocab)
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False)
        print(f"wrote {args.out}: BPE, {len(data['model']['vocab'])} tokens, {len(data['model']['merges'])} merges")
    if not path:
        ap.error("nothing to do")
    if args.check or args.server or args.vocab:
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(path)
        if args.check:
            check_reference(tok, *args.check)
        if args.server:
            check_server(tok, args.server.rstrip("/"))


if __name__ == "__main__":
    main()
