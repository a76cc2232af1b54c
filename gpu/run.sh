#!/usr/bin/env bash
# lockstep's GPU checks (docs/gpu.md, issue 14), from the bundle `cargo xtask gpu-bundle`
# builds. Usage: run.sh [--dry-run] OUTDIR
#
# Writes into OUTDIR (which must be new or empty): results.json, results.md (every
# check), repro-report.json and repro-report.md (the lockstep-repro suite), run.log.
# Environment: PYTHON (default /opt/torch/.venv/bin/python3, then python3) finds the
# host's torch/lib; TORCH_LIB overrides that folder; BUDGET_S (default 450) bounds the
# whole run. --dry-run runs every check on the CPU with small step counts.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DRY=0
if [ "${1:-}" = "--dry-run" ]; then DRY=1; shift; fi
if [ $# -ne 1 ]; then
  echo "usage: $0 [--dry-run] OUTDIR" >&2
  exit 64
fi
mkdir -p "$1" || exit 1
OUT=$(cd "$1" && pwd)
if [ -n "$(ls -A "$OUT")" ]; then
  echo "run.sh: $OUT is not empty; give a new folder" >&2
  exit 1
fi
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/lockstep-gpu.XXXXXX") || exit 1
PARTS=$SCRATCH/parts
RUNS=$SCRATCH/runs
mkdir -p "$PARTS" "$RUNS"
LOG=$OUT/run.log
GC=$HERE/bin/lockstep-gpu-check
REPRO=$HERE/bin/lockstep-repro

if [ -z "${TORCH_LIB:-}" ]; then
  PYTHON=${PYTHON:-/opt/torch/.venv/bin/python3}
  command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
  TORCH_LIB=$("$PYTHON" -c 'import torch,os;print(os.path.join(os.path.dirname(torch.__file__),"lib"))') || {
    echo "run.sh: \`$PYTHON -c 'import torch'\` failed; set PYTHON or TORCH_LIB" >&2
    exit 1
  }
fi
export LD_LIBRARY_PATH="$TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# cuBLAS reads this once, when CUDA starts: strict runs need it before the process starts.
export CUBLAS_WORKSPACE_CONFIG=:4096:8

if [ "$DRY" = 1 ]; then
  DEV=cpu
  TRAIN=(--steps 6 --train-n 128 --val-n 16 --threads 1)
  CPU_TRAIN=("${TRAIN[@]}")
  REPRO_ARGS=(--quick --steps 4)
  BENCH_TINY=(--steps 2 --rounds 2 --warmup 1 --train-n 64 --threads 1)
  BENCH_LARGE=(--steps 1 --rounds 2 --warmup 1 --train-n 16 --batch 8 --threads 1)
  NONDET=(--n 4096 --repeats 2)
  CPU_VS_GPU=report
else
  DEV=cuda
  TRAIN=(--steps 200 --threads 4)
  CPU_TRAIN=(--steps 200 --threads 8)
  REPRO_ARGS=()
  BENCH_TINY=(--steps 30 --rounds 5 --warmup 10)
  BENCH_LARGE=(--steps 8 --rounds 5 --warmup 3)
  NONDET=(--n 1048576 --repeats 8)
  CPU_VS_GPU=differ
fi

START=$(date +%s)
DEADLINE=$((START + ${BUDGET_S:-450}))
# check ID TIMEOUT_S CMD…: runs CMD with a timeout (cut to the time left), logs it and
# records its exit status as PARTS/ID.rc; a check that is out of time is not started.
check() {
  local id=$1 limit=$2
  shift 2
  local left=$((DEADLINE - $(date +%s)))
  if [ "$left" -lt 5 ]; then
    echo "125" >"$PARTS/$id.rc"
    echo "<== $id: not started, the run is out of time" | tee -a "$LOG" >&2
    return
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  local t0=$(date +%s)
  echo "==> $id (limit ${limit}s): $*" >>"$LOG"
  timeout --kill-after=10 "$limit" "$@" >>"$LOG" 2>&1
  local rc=$?
  echo "$rc" >"$PARTS/$id.rc"
  echo "<== $id: exit $rc in $(($(date +%s) - t0)) s" | tee -a "$LOG" >&2
}

# 0. The host, as the driver and Python torch see it (records only).
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "uname: $(uname -srm)"
  echo "torch lib: $TORCH_LIB"
  if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | sed 's/^/gpu: /'
  else
    echo "gpu: nvidia-smi not found"
  fi
  if [ -n "${PYTHON:-}" ]; then
    "$PYTHON" -c 'import torch;print("python torch:",torch.__version__,"cuda",torch.version.cuda,"cudnn",torch.backends.cudnn.version(),"device",torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")' 2>&1
  fi
  grep -m1 'model name' /proc/cpuinfo 2>/dev/null
  echo "cpus: $(nproc 2>/dev/null)"
} >"$SCRATCH/host.txt"
check 0-env 60 "$GC" env --device "$DEV" --host "$SCRATCH/host.txt" --out "$PARTS/0-env.json"

# 1. The switch's read-back, and its refusal after CUDA started without the variable.
check 1-switch 60 "$GC" switch --device "$DEV" --out "$PARTS/1-switch.json"
check 1-late-switch 60 env -u CUBLAS_WORKSPACE_CONFIG "$GC" late-switch --device "$DEV" --out "$PARTS/1-late-switch.json"

# 2. Strict mode, two processes per model; then the repro suite.
for m in tiny cnn; do
  for r in a b; do
    check "run-$m-strict-$r" 120 "$GC" train --model "$m" --mode strict --device "$DEV" "${TRAIN[@]}" \
      --trace "$RUNS/$m-strict-$r.trace" --out "$RUNS/$m-strict-$r.json"
  done
  check "2-strict-$m" 60 "$GC" compare --id "2-strict-$m" --title "$m, strict, two processes" --expect equal \
    "$RUNS/$m-strict-a.json" "$RUNS/$m-strict-b.json" --out "$PARTS/2-strict-$m.json"
done
check 2-repro "${REPRO_TIMEOUT_S:-200}" "$REPRO" --device "$DEV" "${REPRO_ARGS[@]}" --out "$SCRATCH/repro"
rc=$(cat "$PARTS/2-repro.rc")
status=fail
[ "$rc" = 0 ] && status=pass
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$LOG" | tail -n 1)
printf '{"id":"2-repro","title":"lockstep-repro --device %s, whole suite","status":"%s","summary":"exit %s: %s; see repro-report.md","details":null}\n' \
  "$DEV" "$status" "$rc" "${summary:-no summary line}" >"$PARTS/2-repro.json"
for f in report.json report.md; do
  [ -f "$SCRATCH/repro/$f" ] && cp "$SCRATCH/repro/$f" "$OUT/repro-$f"
done

# 3. Default mode twice per model (CUBLAS_WORKSPACE_CONFIG unset, as a user would run),
#    then ops that use atomics without the switch.
for m in tiny cnn; do
  for r in a b; do
    check "run-$m-default-$r" 120 env -u CUBLAS_WORKSPACE_CONFIG "$GC" train --model "$m" --mode default \
      --device "$DEV" "${TRAIN[@]}" --trace "$RUNS/$m-default-$r.trace" --out "$RUNS/$m-default-$r.json"
  done
  check "3-default-$m" 60 "$GC" compare --id "3-default-$m" --title "$m, default mode, two processes" \
    --expect report "$RUNS/$m-default-a.json" "$RUNS/$m-default-b.json" --out "$PARTS/3-default-$m.json"
done
check 3-nondet-ops 120 "$GC" nondet-ops --device "$DEV" "${NONDET[@]}" --out "$PARTS/3-nondet-ops.json"

# 4. Ops without a deterministic kernel: a typed error naming the op.
check 4-refuse 60 "$GC" refuse --device "$DEV" --out "$PARTS/4-refuse.json"

# 5. Cost of determinism, strict and default alternating in one process.
check 5-cost-tiny 120 "$GC" bench --model tiny --device "$DEV" "${BENCH_TINY[@]}" --out "$PARTS/5-cost-tiny.json"
check 5-cost-large 150 "$GC" bench --model large --device "$DEV" "${BENCH_LARGE[@]}" --out "$PARTS/5-cost-large.json"

# 6. The same seed on the CPU: other bits, and both learn.
check run-tiny-cpu 180 "$GC" train --model tiny --mode strict --device cpu "${CPU_TRAIN[@]}" --out "$RUNS/tiny-cpu.json"
check 6-cpu-vs-gpu 60 "$GC" compare --id 6-cpu-vs-gpu --title "tiny, strict, CPU vs $DEV" --expect "$CPU_VS_GPU" \
  "$RUNS/tiny-cpu.json" "$RUNS/tiny-strict-a.json" --out "$PARTS/6-cpu-vs-gpu.json"

EXPECTED=0-env,1-switch,1-late-switch,2-strict-tiny,2-strict-cnn,2-repro,3-default-tiny,3-default-cnn,3-nondet-ops,4-refuse,5-cost-tiny,5-cost-large,6-cpu-vs-gpu
DEADLINE=$((DEADLINE + 30)) # the summary always runs
check summarize 30 "$GC" summarize --parts "$PARTS" --expected "$EXPECTED" --out "$OUT" --dry-run "$DRY"
echo "total: $(($(date +%s) - START)) s" | tee -a "$LOG" >&2
# Keep the log under 16 MiB (its end matters most).
if [ "$(wc -c <"$LOG")" -gt 8000000 ]; then
  tail -c 8000000 "$LOG" >"$SCRATCH/log.tail" && mv "$SCRATCH/log.tail" "$LOG"
fi
rm -rf "$SCRATCH"
[ -f "$OUT/results.json" ] || exit 1
grep -q '"failed": 0' "$OUT/results.json"
