#!/usr/bin/env bash
# Offline validation of the deployment files (run by .ci/run):
#   - every YAML document under deploy/kubernetes against the official
#     Kubernetes schemas of a fixed version, strictly (unknown fields fail),
#     with the PyPI package kubernetes-validate (its schemas are bundled, so
#     no cluster and no network are needed once it is installed);
#   - the cross-file facts the manifests rely on (shard count, names, mounts);
#   - the example plan in plan-configmap.yaml is JSON of format servebench-plan;
#   - deploy/slurm/servebench.sbatch parses (bash -n);
#   - the Dockerfile builds the servebench binary and .dockerignore leaves
#     out the build outputs.
# Exits non-zero on the first kind of failure it finds, including when the
# validator cannot be installed: nothing is skipped.
#
# Usage: bash scripts/validate-deploy.sh
# KUBERNETES_VERSION overrides the schema version (default 1.30.0).
set -euo pipefail
cd "$(dirname "$0")/.."

KUBERNETES_VERSION=${KUBERNETES_VERSION:-1.30.0}
PYTHON=${PYTHON:-python3}
failed=0
fail() { echo "FAIL: $*" >&2; failed=1; }

echo "== validate-deploy =="
command -v "$PYTHON" >/dev/null || { echo "FAIL: $PYTHON not found" >&2; exit 1; }

# 1. The validator: install it if it is not importable; fail if that fails.
if ! "$PYTHON" -c 'import kubernetes_validate' 2>/dev/null; then
  echo "installing kubernetes-validate (PyPI)"
  if ! "$PYTHON" -m pip install --quiet kubernetes-validate; then
    echo "FAIL: could not install kubernetes-validate with pip" >&2
    exit 1
  fi
  "$PYTHON" -c 'import kubernetes_validate' \
    || { echo "FAIL: kubernetes-validate installed but not importable" >&2; exit 1; }
fi

# 2. Kubernetes manifests, plan and cross-file checks (one Python process).
# The validator's own command line passes a document whose kind/apiVersion
# has no schema with only a warning (exit 0), and PyYAML keeps the last of
# duplicated keys silently; both are failures here.
shopt -s nullglob
manifests=(deploy/kubernetes/*.yaml deploy/kubernetes/*.yml)
shopt -u nullglob
if [ "${#manifests[@]}" -eq 0 ]; then
  fail "no manifests under deploy/kubernetes"
else
  "$PYTHON" - "$KUBERNETES_VERSION" "${manifests[@]}" <<'PY' || failed=1
import json
import re
import sys

import yaml
import kubernetes_validate
from kubernetes_validate import utils

version, files = sys.argv[1], sys.argv[2:]
if version.lstrip("v") not in utils.all_versions():
    print(f"FAIL: kubernetes-validate {kubernetes_validate.__version__} has no schemas "
          f"for Kubernetes {version}; it has {', '.join(utils.all_versions())}")
    sys.exit(1)


class UniqueKeyLoader(yaml.SafeLoader):
    pass


def mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicated key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)

errors = 0
docs = {}
for path in files:
    try:
        with open(path) as f:
            items = [d for d in yaml.load_all(f, Loader=UniqueKeyLoader) if d is not None]
    except Exception as e:  # YAML syntax, duplicated keys
        print(f"FAIL {path}: not valid YAML: {e}")
        errors += 1
        continue
    if not items:
        print(f"FAIL {path}: no Kubernetes object in it")
        errors += 1
        continue
    for d in items:
        if not isinstance(d, dict) or not {"apiVersion", "kind", "metadata"} <= d.keys():
            print(f"FAIL {path}: a document without apiVersion, kind and metadata")
            errors += 1
            continue
        name = f"{d['kind']}/{d['metadata'].get('name')}"
        try:
            got = utils.validate(d, version, strict=True)
            print(f"ok   {path}: {name} (Kubernetes {got}, strict)")
            docs[name] = d
        except utils.ValidationError as e:
            where = ".".join(str(p) for p in e.path) or "(top)"
            print(f"FAIL {path}: {name}: {where}: {e.message}")
            errors += 1
        except (utils.SchemaNotFoundError, utils.InvalidSchemaError,
                utils.VersionNotSupportedError) as e:
            print(f"FAIL {path}: {name}: {e.message}")
            errors += 1
        except Exception as e:
            print(f"FAIL {path}: {name}: could not be validated: {e!r}")
            errors += 1


def check(cond, what):
    global errors
    if not cond:
        print(f"FAIL cross-check: {what}")
        errors += 1
    return cond


def dig(d, *keys):
    for k in keys:
        if isinstance(d, dict):
            d = d.get(k)
        elif isinstance(d, list) and isinstance(k, int) and k < len(d):
            d = d[k]
        else:
            return None
    return d


need = ["PersistentVolumeClaim/servebench-results", "ConfigMap/servebench-plan",
        "Job/servebench-workers", "Job/servebench-merge"]
for n in need:
    check(n in docs, f"{n} is missing or invalid")

pvc = docs.get("PersistentVolumeClaim/servebench-results")
if pvc:
    check("ReadWriteMany" in (dig(pvc, "spec", "accessModes") or []),
          "the results PVC must be ReadWriteMany (the workers share it)")

cm = docs.get("ConfigMap/servebench-plan")
plan = None
if cm:
    text = dig(cm, "data", "plan.json")
    if check(isinstance(text, str), "ConfigMap servebench-plan has no data.plan.json"):
        try:
            plan = json.loads(text)
        except ValueError as e:
            check(False, f"plan.json is not valid JSON: {e}")
if plan is not None:
    check(plan.get("format") == "servebench-plan",
          f"plan.json format is {plan.get('format')!r}, not 'servebench-plan'")
    check(plan.get("version") == 1, "plan.json version is not 1")
    check(isinstance(plan.get("shards"), int) and plan["shards"] >= 1,
          "plan.json shards is not a positive integer")
    cmd = plan.get("command")
    check(isinstance(cmd, list) and cmd and cmd[0] in
          ("static", "static-mm", "serving", "replay", "sessions"),
          "plan.json command does not start with a load command")
    check(isinstance(plan.get("start_at"), str), "plan.json has no start_at")

job = docs.get("Job/servebench-workers")
if job:
    spec = job["spec"]
    pod = dig(spec, "template", "spec") or {}
    c = dig(pod, "containers", 0) or {}
    args = c.get("args") or []
    check(spec.get("completionMode") == "Indexed", "the worker Job is not Indexed")
    check(spec.get("completions") == spec.get("parallelism"),
          "the worker Job's completions and parallelism differ: all workers must run at once")
    check(args[:2] == ["run", "/plan/plan.json"], f"worker args do not run /plan/plan.json: {args}")
    shards = args[args.index("--shards") + 1] if "--shards" in args[:-1] else None
    check(shards == str(spec.get("completions")),
          f"worker --shards {shards} differs from completions {spec.get('completions')}")
    if plan is not None:
        check(spec.get("completions") == plan.get("shards"),
              f"the worker Job runs {spec.get('completions')} pods, the example plan has "
              f"{plan.get('shards')} shards")
    mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts") or []}
    vols = {v["name"]: v for v in pod.get("volumes") or []}
    check(dig(vols.get(mounts.get("/plan")), "configMap", "name") == "servebench-plan",
          "/plan is not the servebench-plan ConfigMap")
    check(dig(vols.get(mounts.get("/results")), "persistentVolumeClaim", "claimName")
          == "servebench-results", "/results is not the servebench-results PVC")
    out = args[args.index("--out") + 1] if "--out" in args[:-1] else None
    check(out is not None and out.startswith("/results"),
          f"worker --out {out} is not on the results volume")
    for e in c.get("env") or []:
        if e.get("name") == "OPENAI_API_KEY":
            check("value" not in e and dig(e, "valueFrom", "secretKeyRef") is not None,
                  "OPENAI_API_KEY must come from a Secret, not a literal")

merge = docs.get("Job/servebench-merge")
if merge:
    margs = dig(merge, "spec", "template", "spec", "containers", 0, "args") or []
    check(margs[:1] == ["merge"] and "-o" in margs, f"the merge Job does not run merge -o: {margs}")
    if job and "--out" in (dig(job, "spec", "template", "spec", "containers", 0, "args") or [])[:-1]:
        wargs = dig(job, "spec", "template", "spec", "containers", 0, "args")
        check(wargs[wargs.index("--out") + 1] in margs[1:margs.index("-o") if "-o" in margs else None],
              "the merge Job does not read the workers' --out directory")

# Resource quantities: the JSON schema accepts any string ("two" CPUs); the
# API server would refuse it at apply time.
QUANTITY = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)"
                      r"([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")


def quantities(node, where):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "resources" and isinstance(v, dict):
                for kind in ("requests", "limits"):
                    for res, q in (v.get(kind) or {}).items():
                        check(isinstance(q, (int, float)) or
                              (isinstance(q, str) and QUANTITY.match(q)),
                              f"{where}: resources.{kind}.{res} = {q!r} is not a quantity")
            else:
                quantities(v, where)
    elif isinstance(node, list):
        for v in node:
            quantities(v, where)


for name, d in docs.items():
    quantities(d, name)

sys.exit(1 if errors else 0)
PY
fi

# 3. Slurm batch script.
sbatch=deploy/slurm/servebench.sbatch
if [ ! -f "$sbatch" ]; then
  fail "$sbatch is missing"
elif ! bash -n "$sbatch"; then
  fail "$sbatch has a syntax error (bash -n)"
else
  grep -q '^#SBATCH --ntasks=' "$sbatch" || fail "$sbatch sets no #SBATCH --ntasks"
  grep -Eq '^[^#]*srun ' "$sbatch" || fail "$sbatch starts no tasks with srun"
  grep -Eq '^[^#]*(servebench|SERVEBENCH)"? run ' "$sbatch" || fail "$sbatch runs no servebench run"
  grep -Eq '^[^#]* merge ' "$sbatch" || fail "$sbatch does not merge the shards"
  echo "ok   $sbatch: bash -n"
fi

# 4. Dockerfile and .dockerignore.
if [ ! -f Dockerfile ]; then
  fail "Dockerfile is missing"
else
  grep -Eq '^(RUN|[[:space:]]).*cargo build --release --locked --bin servebench' Dockerfile \
    || fail "Dockerfile does not run 'cargo build --release --locked --bin servebench'"
  grep -Eq '^ENTRYPOINT \["(/usr/local/bin/)?servebench"\]' Dockerfile \
    || fail "Dockerfile has no ENTRYPOINT [\"servebench\"]"
  grep -Eq '^USER ' Dockerfile || fail "Dockerfile does not switch to a non-root USER"
  echo "ok   Dockerfile: builds --bin servebench"
fi
if [ ! -f .dockerignore ]; then
  fail ".dockerignore is missing"
else
  for p in target target-reports .git; do
    grep -Eqx "/?$p/?" .dockerignore || fail ".dockerignore does not exclude $p"
  done
  echo "ok   .dockerignore"
fi

if [ "$failed" -ne 0 ]; then
  echo "validate-deploy: FAILED" >&2
  exit 1
fi
echo "validate-deploy: all checks passed"
