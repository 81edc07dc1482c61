//! The seed tools' CSV headers, verbatim (SEED-TOOLS.md §2.7, §3.4, §6.1).

/// The O/R static header (`benchmark_parallel.py`), verbatim.
pub const STATIC_HEADER: [&str; 12] = [
    "输入长度",
    "输出长度",
    "并发数",
    "输出tokens总吞吐",
    "首tokens时延TP90（ms）",
    "首tokens时延TP99（ms）",
    "最大首tokens时延（ms）",
    "平均首tokens时延（ms）",
    "增量时延TP90（ms）",
    "增量时延TP99（ms）",
    "最大增量时延（ms）",
    "平均增量时延（ms）",
];

/// The O/R static header's optional speculative-decoding columns
/// (`--use-spec-decode` with `--num-speculative-tokens`), verbatim.
pub const SPEC_HEADER: [&str; 5] = [
    "投机接受率TP90",
    "投机接受率TP99",
    "投机最大接受率",
    "投机最小接受率",
    "投机平均接受率",
];

/// The N static header's optional speculative-decoding columns, verbatim.
pub const SPEC_HEADER_N: [&str; 5] = [
    "TP90_SPEC_ACCEPT_RATE",
    "TP99_SPEC_ACCEPT_RATE",
    "MAX_SPEC_ACCEPT_RATE",
    "MIN_SPEC_ACCEPT_RATE",
    "AVG_SPEC_ACCEPT_RATE",
];

/// The N static header (41 columns), verbatim.
pub const STATIC_HEADER_N: [&str; 41] = [
    "Input_Length",
    "Output_Length",
    "Concurrency",
    "Total_Token_Throughput(tokens/s)",
    "Output_Token_Throughput(tokens/s)",
    "TP75_TTFT(s)",
    "TP90_TTFT(s)",
    "TP95_TTFT(s)",
    "TP99_TTFT(s)",
    "MAX_TTFT(s)",
    "AVG_TTFT(s)",
    "TP75_TPOT(s)",
    "TP90_TPOT(s)",
    "TP95_TPOT(s)",
    "TP99_TPOT(s)",
    "MAX_TPOT(s)",
    "AVG_TPOT(s)",
    "TP90_TPOT_SEC(s)",
    "TP95_TPOT_SEC(s)",
    "TP99_TPOT_SEC(s)",
    "MAX_TPOT_SEC(s)",
    "AVG_TPOT_SEC(s)",
    "TP90_TIME_BETWEEN_FIRST_AND_SECOND_TOKEN(s)",
    "TP95_TIME_BETWEEN_FIRST_AND_SECOND_TOKEN(s)",
    "TP99_TIME_BETWEEN_FIRST_AND_SECOND_TOKEN(s)",
    "MIN_TIME_BETWEEN_FIRST_AND_SECOND_TOKEN(s)",
    "MAX_TIME_BETWEEN_FIRST_AND_SECOND_TOKEN(s)",
    "AVG_TIME_BETWEEN_FIRST_AND_SECOND_TOKEN(s)",
    "TP75_E2E(s)",
    "TP90_E2E(s)",
    "TP95_E2E(s)",
    "TP99_E2E(s)",
    "MAX_E2E(s)",
    "AVG_E2E(s)",
    "Total_Time(s)",
    "QPS",
    "Fail_Rate",
    "Backend",
    "Temperature",
    "Top_k",
    "Top_p",
];

/// The multimodal static header (`modal_benchmark_parallel.py`, R), verbatim:
/// [`STATIC_HEADER`] with `P90`/`P99` for `TP90`/`TP99`.
pub const STATIC_MM_HEADER: [&str; 12] = [
    "输入长度",
    "输出长度",
    "并发数",
    "输出tokens总吞吐",
    "首tokens时延P90（ms）",
    "首tokens时延P99（ms）",
    "最大首tokens时延（ms）",
    "平均首tokens时延（ms）",
    "增量时延P90（ms）",
    "增量时延P99（ms）",
    "最大增量时延（ms）",
    "平均增量时延（ms）",
];

/// The multimodal static header of N (18 columns), verbatim; its values
/// are all in seconds, even where the header says ms (as N writes them).
pub const STATIC_MM_HEADER_N: [&str; 18] = [
    "输入长度",
    "输出长度",
    "并发数",
    "image_shape(h,w)",
    "输出tokens总吞吐",
    "首tokens时延P90（ms）",
    "首tokens时延P99（ms）",
    "最大首tokens时延（ms）",
    "平均首tokens时延（ms）",
    "增量时延P90（ms）",
    "增量时延P99（ms）",
    "最大增量时延（ms）",
    "平均增量时延（ms）",
    "端到端时延P90（s）",
    "端到端时延p95（s）",
    "端到端时延P99（s）",
    "最大端到端时延（s）",
    "平均端到端时延（s）",
];

/// The O/R dynamic header (`benchmark_serving.py`), verbatim.
pub const SERVING_HEADER: [&str; 10] = [
    "数据集",
    "输入平均长度（tokens）",
    "输出平均长度（tokens）",
    "请求频率（req/s）",
    "请求吞吐（req/s）",
    "请求平均时延（s）",
    "平均输出tokens吞吐（tokens/s）",
    "单请求每tokens平均时延（ms）",
    "首tokens平均时延（ms）",
    "输出tokens总吞吐（tokens/s）",
];

/// The N dynamic header, verbatim (same order and formulas as
/// [`SERVING_HEADER`]).
pub const SERVING_HEADER_N: [&str; 10] = [
    "DATASET",
    "AVG_Input_Length",
    "AVG_Output_Length",
    "REQ_RATE",
    "QPS",
    "AVG_REQ_LATENCY",
    "AVG_PER_REQ_OUTPUT_TOKEN_THROUGHPUT",
    "AVG_LATENCY_PER_TOKEN_FOR_A_SINGLE_REQ",
    "AVG_TTFT",
    "AVG_OUTPUT_TOKEN_THROUGHPUT",
];
