#!/usr/bin/env bash
# One CUDA check of litedepth's GPU training and inference paths (issue 13), under 8 minutes.
#
# Prints (rich tables, also written as JSON to $OUT, default a fresh temporary folder):
#   1. per network (lite-mono, monodepth2-resnet18; 640x192, batch 12): loss of fp32 vs
#      fp32 channels-last vs bf16 / fp16 autocast (relative difference), ms per step,
#      samples/s and peak device memory                          (benchmarks.bench_gpu)
#   2. loader samples/s next to step samples/s, and the step breakdown (data wait /
#      forward / loss / backward / optimiser), augmentation in the workers and on the
#      device, KITTI-sized JPEG frames                             (benchmarks.bench_gpu)
#   3. inference latency: eager fp32, channels-last, fp16 / bf16 autocast (bench_inference)
#
# Run from anywhere; it works from the repository root with an existing virtual environment
# (.venv/bin/python, or $PYTHON) or a `pip install -e .` in the current Python. It installs
# nothing and downloads nothing. Every stage has its own time limit; a stage that fails or
# runs out of time is reported and the others still run; the exit status is 1 if any failed.
#   DEVICE_CHECK_COMPILE=1  also time bf16 + torch.compile (adds 1-3 minutes of compilation)
#   DEVICE_CHECK_WORKERS=N  loader workers (default: min(8, CPUs))
#   DEVICE_CHECK_CPU_SMOKE=1  run every stage tiny on the CPU (checks this script without a GPU)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -n "${PYTHON:-}" ]]; then
  PY="$PYTHON"
elif [[ -x .venv/bin/python ]]; then
  PY=.venv/bin/python
else
  PY=python3
fi
export PYTHONPATH="$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
OUT="${OUT:-$(mktemp -d -t litedepth-device-check-XXXXXX)}"
mkdir -p "$OUT"
START=$(date +%s)
FAILED=()

stage() {  # stage NAME SECONDS COMMAND...
  local name=$1 limit=$2
  shift 2
  echo
  echo "=== ${name} (limit ${limit} s, $(( $(date +%s) - START )) s elapsed) ==="
  local rc=0
  timeout --kill-after=10 "$limit" "$@" || rc=$?
  if [[ $rc -ne 0 ]]; then
    if [[ $rc -eq 124 || $rc -eq 137 ]]; then echo "!!! ${name}: out of time after ${limit} s"; else echo "!!! ${name}: failed (exit ${rc})"; fi
    FAILED+=("${name}")
  fi
}

SMOKE="${DEVICE_CHECK_CPU_SMOKE:-0}"
"$PY" - "$SMOKE" <<'EOF'
import os, platform, sys, torch
if sys.argv[1] == "1":
    print(f"CPU smoke run: torch {torch.__version__}, {os.cpu_count()} CPUs")
    raise SystemExit(0)
if not torch.cuda.is_available():
    raise SystemExit("device_check.sh: torch.cuda.is_available() is False (no CUDA device or a CPU-only torch)")
p = torch.cuda.get_device_properties(0)
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}; "
      f"{p.name}, {p.total_memory / 2**30:.0f} GiB, {torch.cuda.device_count()} device(s); "
      f"{os.cpu_count()} CPUs; Python {platform.python_version()}; bf16 supported: {torch.cuda.is_bf16_supported()}")
EOF

WORKERS_ARG=()
if [[ -n "${DEVICE_CHECK_WORKERS:-}" ]]; then WORKERS_ARG=(--workers "${DEVICE_CHECK_WORKERS}"); fi
COMPILE_ARG=()
GPU_LIMIT=270
if [[ "${DEVICE_CHECK_COMPILE:-0}" == "1" ]]; then COMPILE_ARG=(--compile); GPU_LIMIT=390; fi

DEVICE=(--device cuda)
GPU_ARGS=(--steps 8)
INF_ARGS=(--models lite-mono lite-mono-tiny monodepth2-resnet18 --repeats 20 --target-repeats 50 --budget 0)
if [[ "$SMOKE" == "1" ]]; then
  DEVICE=(--device cpu --threads 1)
  GPU_ARGS=(--steps 1 --quick --networks lite-mono-tiny)
  INF_ARGS=(--models lite-mono-tiny --repeats 1 --target-repeats 1 --warmup 0)
fi

stage "training: precision, memory order, loader vs step" "$GPU_LIMIT" \
  "$PY" -m benchmarks.bench_gpu "${DEVICE[@]}" "${GPU_ARGS[@]}" ${WORKERS_ARG[@]+"${WORKERS_ARG[@]}"} \
  ${COMPILE_ARG[@]+"${COMPILE_ARG[@]}"} --out "$OUT"
stage "inference latency" 100 \
  "$PY" -m benchmarks.bench_inference "${DEVICE[@]}" "${INF_ARGS[@]}" --no-ort --out "$OUT"

echo
echo "device_check.sh: $(( $(date +%s) - START )) s in all; JSON in ${OUT}"
if [[ ${#FAILED[@]} -gt 0 ]]; then
  echo "device_check.sh: FAILED stages: ${FAILED[*]}"
  exit 1
fi
