#!/usr/bin/env python3
"""Writes the small sample result files of tests/interop.rs, in the shapes
vLLM (`vllm bench serve --save-result [--save-detailed]`), aiperf
(`profile_export_aiperf.json`, `profile_export.jsonl`) and guidellm
(`benchmarks.json`) write, with summary figures computed from the
per-request values the way each tool computes them (numpy's linear
percentiles; vLLM's population std). Run it from this folder."""
import json
import math


def pct(v, p):
    s = sorted(v)
    if not s:
        return 0.0
    k = (len(s) - 1) * p / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def mean(v):
    return sum(v) / len(v) if v else 0.0


def pstd(v):
    m = mean(v)
    return math.sqrt(sum((x - m) ** 2 for x in v) / len(v)) if v else 0.0


def sstd(v):
    m = mean(v)
    return math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else 0.0


# Four successful requests and one failed: (start s, ttft s, chunk gaps s,
# input tokens, output tokens, end-of-body after the last chunk s).
REQS = [
    (0.000, 0.120, [0.020, 0.021, 0.019, 0.022], 128, 5, 0.001),
    (0.250, 0.135, [0.018, 0.024, 0.020, 0.020, 0.023], 128, 6, 0.002),
    (0.500, 0.110, [0.025, 0.019, 0.021], 130, 4, 0.001),
    (0.750, 0.150, [0.030, 0.020, 0.020, 0.021, 0.019, 0.022], 126, 7, 0.001),
]
FAILED = (1.000, 127, "HTTP 500: Internal Server Error")
T0 = 1764489600.0  # 2025-11-30 08:00:00 UTC


def vllm(detailed):
    ttfts = [r[1] for r in REQS]
    lat = [r[1] + sum(r[2]) + r[5] for r in REQS]
    tpots = [(l - r[1]) / (r[4] - 1) for l, r in zip(lat, REQS)]
    itls = [g for r in REQS for g in r[2]]
    end = max(r[0] + l for r, l in zip(REQS, lat))
    duration = end - REQS[0][0]
    tin = sum(r[3] for r in REQS)
    tout = sum(r[4] for r in REQS)
    d = {
        "date": "20251130-080000",
        "endpoint_type": "openai",
        "backend": "openai",
        "label": None,
        "model_id": "facebook/opt-125m",
        "tokenizer_id": "facebook/opt-125m",
        "num_prompts": 5,
        "request_rate": 4.0,
        "burstiness": 1.0,
        "max_concurrency": None,
        "duration": duration,
        "completed": 4,
        "failed": 1,
        "total_input_tokens": tin,
        "total_output_tokens": tout,
        "request_throughput": 4 / duration,
        "request_goodput": None,
        "output_throughput": tout / duration,
        "total_token_throughput": (tin + tout) / duration,
        "max_output_tokens_per_s": 22.0,
        "max_concurrent_requests": 2,
    }
    if detailed:
        d.update({
            "input_lens": [r[3] for r in REQS] + [FAILED[1]],
            "output_lens": [r[4] for r in REQS] + [0],
            "ttfts": ttfts + [0.0],
            "itls": [r[2] for r in REQS] + [[]],
            "latencies": lat + [0.0],
            "start_times": [1000.0 + r[0] for r in REQS] + [1000.0 + FAILED[0]],
            "generated_texts": ["a b c d e", "a b c d e f", "a b c d", "a b c d e f g", ""],
            "errors": ["", "", "", "", FAILED[2]],
        })
    for name, v in [("ttft", ttfts), ("tpot", tpots), ("itl", itls), ("e2el", lat)]:
        d[f"mean_{name}_ms"] = mean(v) * 1000
        d[f"median_{name}_ms"] = pct(v, 50) * 1000
        d[f"std_{name}_ms"] = pstd(v) * 1000
        d[f"p99_{name}_ms"] = pct(v, 99) * 1000
    return d


def aiperf_records():
    lines = []
    for i, r in enumerate(REQS):
        start = int((T0 + r[0]) * 1e9)
        e2el = r[1] + sum(r[2])
        osl = r[4]
        lines.append({
            "metadata": {
                "session_num": i, "x_request_id": f"req-{i}", "x_correlation_id": f"corr-{i}",
                "conversation_id": f"conv-{i}", "turn_index": 0,
                "request_start_ns": start, "request_ack_ns": start + 2_000_000,
                "request_end_ns": start + int(round((e2el + r[5]) * 1e9)),
                "worker_id": "worker_1", "record_processor_id": "record_processor_1",
                "benchmark_phase": "profiling", "was_cancelled": False, "cancellation_time_ns": None,
            },
            "metrics": {
                "input_sequence_length": {"value": r[3], "unit": "tokens"},
                "time_to_first_token": {"value": r[1] * 1000, "unit": "ms"},
                "request_latency": {"value": e2el * 1000, "unit": "ms"},
                "output_token_count": {"value": osl, "unit": "tokens"},
                "inter_chunk_latency": {"value": [g * 1000 for g in r[2]], "unit": "ms"},
                "output_sequence_length": {"value": osl, "unit": "tokens"},
                "inter_token_latency": {"value": (e2el - r[1]) / (osl - 1) * 1000, "unit": "ms"},
                "output_token_throughput_per_user": {"value": osl / e2el, "unit": "tokens/sec/user"},
            },
            "error": None,
        })
    start = int((T0 + FAILED[0]) * 1e9)
    lines.append({
        "metadata": {
            "session_num": 4, "x_request_id": "req-4", "x_correlation_id": "corr-4",
            "conversation_id": "conv-4", "turn_index": 0, "request_start_ns": start,
            "request_ack_ns": None, "request_end_ns": start + 5_000_000, "worker_id": "worker_1",
            "record_processor_id": "record_processor_1", "benchmark_phase": "profiling",
            "was_cancelled": False, "cancellation_time_ns": None,
        },
        "metrics": {"error_isl": {"value": FAILED[1], "unit": "tokens"}},
        "error": {"code": 500, "type": "HTTPError", "message": "Internal Server Error"},
    })
    return lines


def stat(unit, v):
    out = {"unit": unit, "avg": mean(v)}
    for p in (1, 5, 10, 25, 50, 75, 90, 95, 99):
        out[f"p{p}"] = pct(v, p)
    out.update({"min": min(v), "max": max(v), "std": pstd(v)})
    return out


def aiperf_summary():
    e2el = [(r[1] + sum(r[2])) * 1000 for r in REQS]
    ttft = [r[1] * 1000 for r in REQS]
    itl = [(e - t) / (r[4] - 1) for e, t, r in zip(e2el, ttft, REQS)]
    icl = [g * 1000 for r in REQS for g in r[2]]
    starts = [T0 + r[0] for r in REQS]
    ends = [T0 + r[0] + r[1] + sum(r[2]) for r in REQS]
    duration = max(ends) - min(starts)
    osl = sum(r[4] for r in REQS)
    isl = sum(r[3] for r in REQS)
    return {
        "request_throughput": {"unit": "requests/sec", "avg": 4 / duration},
        "request_latency": stat("ms", e2el),
        "request_count": {"unit": "requests", "avg": 4},
        "time_to_first_token": stat("ms", ttft),
        "inter_token_latency": stat("ms", itl),
        "output_token_throughput": {"unit": "tokens/sec", "avg": osl / duration},
        "output_token_throughput_per_user": stat("tokens/sec/user", [r[4] / (e / 1000) for r, e in zip(REQS, e2el)]),
        "output_sequence_length": stat("tokens", [r[4] for r in REQS]),
        "input_sequence_length": stat("tokens", [r[3] for r in REQS]),
        "inter_chunk_latency": stat("ms", icl),
        "benchmark_duration": {"unit": "sec", "avg": duration},
        "total_isl": {"unit": "tokens", "avg": isl},
        "total_osl": {"unit": "tokens", "avg": osl},
        "error_request_count": {"unit": "requests", "avg": 1},
        "input_config": {
            "endpoint": {"model_names": ["facebook/opt-125m"], "type": "chat", "streaming": True,
                         "url": "localhost:8000"},
            "loadgen": {"concurrency": 2, "request_count": 5},
        },
        "was_cancelled": False,
        "error_summary": [{"error_details": {"code": 500, "type": "HTTPError",
                                             "message": "Internal Server Error"}, "count": 1}],
        "start_time": "2025-11-30T08:00:00.000000",
        "end_time": "2025-11-30T08:00:01.900000",
    }


def dist(v):
    ps = {"p001": 0.1, "p01": 1, "p05": 5, "p10": 10, "p25": 25, "p50": 50, "p75": 75,
          "p90": 90, "p95": 95, "p99": 99, "p999": 99.9}
    return {
        "mean": mean(v), "median": pct(v, 50), "mode": v[0], "variance": sstd(v) ** 2,
        "std_dev": sstd(v), "min": min(v), "max": max(v), "count": len(v), "total_sum": sum(v),
        "percentiles": {k: pct(v, p) for k, p in ps.items()}, "pdf": None,
    }


def status(v):
    empty = {"mean": 0.0, "median": 0.0, "mode": 0.0, "variance": 0.0, "std_dev": 0.0,
             "min": 0.0, "max": 0.0, "count": 0, "total_sum": 0.0,
             "percentiles": {k: 0.0 for k in ("p001", "p01", "p05", "p10", "p25", "p50", "p75",
                                               "p90", "p95", "p99", "p999")}, "pdf": None}
    return {"successful": dist(v), "incomplete": empty, "errored": empty, "total": dist(v)}


def guidellm_request(i, r):
    start = T0 + r[0]
    first = start + r[1]
    last = first + sum(r[2])
    end = last + r[5]
    return {
        "type_": "generative_request_stats",
        "request_id": f"req-{i}",
        "response_id": f"cmpl-{i}",
        "request_args": None,
        "output": "a b c",
        "info": {
            "request_id": f"req-{i}",
            "timings": {
                "targeted_start": start, "queued": start - 0.001, "dequeued": start - 0.0005,
                "scheduled_at": start, "resolve_start": start, "request_start": start,
                "first_request_iteration": first, "first_token_iteration": first,
                "first_output_token_iteration": first, "last_token_iteration": last,
                "last_request_iteration": last, "request_iterations": len(r[2]) + 1,
                "token_iterations": len(r[2]) + 1, "request_end": end, "resolve_end": end,
                "finalized": end + 0.001,
            },
        },
        "input_metrics": {"text_tokens": r[3], "total_tokens": r[3]},
        "output_metrics": {"text_tokens": r[4], "total_tokens": r[4]},
        "request_start_time": start,
        "request_end_time": end,
        "request_latency": end - start,
        "prompt_tokens": r[3],
        "output_tokens": r[4],
        "total_tokens": r[3] + r[4],
        "time_to_first_token_ms": 1000 * (first - start),
        "time_per_output_token_ms": 1000 * (last - start) / r[4],
        "inter_token_latency_ms": 1000 * (last - first) / (r[4] - 1),
    }


def guidellm_metrics(reqs):
    ttft = [r[1] * 1000 for r in reqs]
    tpot = [(r[1] + sum(r[2])) * 1000 / r[4] for r in reqs]
    itl = [sum(r[2]) * 1000 / (r[4] - 1) for r in reqs]
    lat = [r[1] + sum(r[2]) + r[5] for r in reqs]
    starts = [r[0] for r in reqs]
    duration = max(s + l for s, l in zip(starts, lat)) - min(starts)
    return duration, {
        "request_totals": {"successful": len(reqs), "incomplete": 0, "errored": 0, "total": len(reqs)},
        "requests_per_second": status([len(reqs) / duration]),
        "request_concurrency": status([1.0]),
        "request_latency": status(lat),
        "prompt_token_count": status([float(r[3]) for r in reqs]),
        "output_token_count": status([float(r[4]) for r in reqs]),
        "total_token_count": status([float(r[3] + r[4]) for r in reqs]),
        "time_to_first_token_ms": status(ttft),
        "time_per_output_token_ms": status(tpot),
        "inter_token_latency_ms": status(itl),
        "output_tokens_per_second": status([sum(r[4] for r in reqs) / duration]),
        "tokens_per_second": status([sum(r[3] + r[4] for r in reqs) / duration]),
    }


def guidellm():
    benches = []
    for idx, (strategy, with_requests) in enumerate([
        ({"type_": "synchronous"}, True),
        ({"type_": "constant", "rate": 4.0, "max_concurrency": None}, False),
    ]):
        duration, metrics = guidellm_metrics(REQS)
        b = {
            "type_": "generative_benchmark",
            "config": {"id_": f"bench-{idx}", "run_id": "run-1", "run_index": idx,
                       "strategy": strategy, "constraints": {}, "sample_size": None},
            "scheduler_metrics": {"measure_start_time": T0, "measure_end_time": T0 + duration},
            "start_time": T0,
            "end_time": T0 + duration,
            "duration": duration,
            "metrics": metrics,
            "requests": {"successful": [guidellm_request(i, r) for i, r in enumerate(REQS)]
                         if with_requests else [], "incomplete": [], "errored": [], "total": None},
        }
        benches.append(b)
    return {"metadata": {"version": 2, "guidellm_version": "0.4.0", "python_version": "3.12",
                         "platform": "Linux"},
            "config": {"target": "http://localhost:8000"},
            "benchmarks": benches}


def dump(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=2)
        f.write("\n")


dump("vllm_detailed.json", vllm(True))
dump("vllm_summary.json", vllm(False))
dump("aiperf/profile_export_aiperf.json", aiperf_summary())
with open("aiperf/profile_export.jsonl", "w") as f:
    for line in aiperf_records():
        f.write(json.dumps(line) + "\n")
with open("guidellm_benchmarks.json", "w") as f:
    f.write(json.dumps(guidellm()) + "\n")
with open("not_a_result.json", "w") as f:
    f.write('{"hello": "world", "items": [1, 2, 3]}\n')
with open("bad_aiperf.jsonl", "w") as f:
    recs = aiperf_records()
    f.write(json.dumps(recs[0]) + "\n" + json.dumps(recs[1]) + "\n")
    f.write('{"metadata": {"request_start_ns": "soon"}, "metrics": {}}\n')
