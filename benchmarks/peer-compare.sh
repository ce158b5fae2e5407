#!/usr/bin/env bash
# Side-by-side speed against llama.cpp on the same random-weight checkpoints, alternating the two engines in one run
# (the host's read bandwidth drifts minute to minute, so only figures taken in the same minutes compare).
#
# Usage: benchmarks/peer-compare.sh [options] PEERS_DIR [CASE ...]
#   PEERS_DIR  llama.cpp built from its public source and the checkpoints: PEERS_DIR/llama.cpp/build/bin/llama-bench and
#              PEERS_DIR/models/{fm-130m,fm-1.4b} (Hugging Face folders) with the matching *.gguf files
#   CASE       fm-130m-f16, fm-1.4b-f16, fm-1.4b-q8_0, fm-1.4b-q4_0, fm-1.4b-q4_k_m (default: the first four); a
#              quantized case runs falcon-mamba with --quant on the F16 folder, or with --gguf on the very GGUF file
#              llama-quantize wrote, and llama.cpp on that GGUF file; a CASE ending in :gguf (fm-1.4b-q8_0:gguf)
#              runs falcon-mamba on the GGUF file whatever --gguf says, so one run can hold both kinds
# Options:
#   --rounds N      rounds per case, each engine once per round, the first engine alternating (default 3)
#   --threads N     threads for both (default 2)
#   --prompt N      prompt tokens (default 512)     --gen N   generated tokens (default 64)
#   --prefill MODE  falcon-mamba's prefill mode (default parallel)
#   --gguf          falcon-mamba reads the case's GGUF file too (the same bytes as llama.cpp), not the F16 folder
#   --cold          evict each model's files from the page cache before every run (posix_fadvise DONTNEED),
#                   so both engines read them in cold
#   --fm-opts "..." extra options for falcon-mamba bench (e.g. --no-mmap)
# Prints one line per run, then per case the medians of both engines and their ratio, with the CPU model, the
# vector width and the date. Needs python3 (JSON and medians).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS=3 THREADS=2 PROMPT=512 GEN=64 PREFILL=parallel COLD=0 GGUF=0 FM_OPTS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --prompt) PROMPT=$2; shift 2 ;;
    --gen) GEN=$2; shift 2 ;;
    --prefill) PREFILL=$2; shift 2 ;;
    --cold) COLD=1; shift ;;
    --gguf) GGUF=1; shift ;;
    --fm-opts) FM_OPTS=$2; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    -*) echo "peer-compare: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
PEERS=${1:?usage: peer-compare.sh [options] PEERS_DIR [CASE ...] (see --help)}
shift
CASES=("$@")
[ ${#CASES[@]} -gt 0 ] || CASES=(fm-130m-f16 fm-1.4b-f16 fm-1.4b-q8_0 fm-1.4b-q4_0)
LLAMA_BENCH="$PEERS/llama.cpp/build/bin/llama-bench"
[ -x "$LLAMA_BENCH" ] || { echo "peer-compare: no llama-bench at $LLAMA_BENCH (run llama-cpp-peer.sh first)" >&2; exit 1; }
FM="$ROOT/bin/falcon-mamba"
RESULTS=$(mktemp)
trap 'rm -f "$RESULTS"' EXIT

evict() { # drop a file's clean pages from the page cache
  python3 -c 'import os,sys
for f in sys.argv[1:]:
    fd = os.open(f, os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)' "$@"
}

run_llama() { # case gguf -> "pp tg" tokens/s
  local out
  out=$("$LLAMA_BENCH" -m "$2" -p "$PROMPT" -n "$GEN" -t "$THREADS" -r 1 -o json 2>/dev/null)
  python3 -c 'import json,sys
r = json.loads(sys.stdin.read())
pp = [x["avg_ts"] for x in r if x["n_prompt"] > 0]; tg = [x["avg_ts"] for x in r if x["n_gen"] > 0]
print(pp[0] if pp else "nan", tg[0] if tg else "nan")' <<<"$out" 2>/dev/null || echo nan nan
}

run_fm() { # case dir [quant] -> "pp tg" tokens/s; also records the vector width
  local q=() out
  [ -n "${3:-}" ] && q=(--quant "$3")
  # shellcheck disable=SC2086
  out=$("$FM" bench --model "$2" "${q[@]}" --prompt-tokens "$PROMPT" --gen-tokens "$GEN" --threads "$THREADS" \
        --prefill "$PREFILL" --repetitions 1 --json $FM_OPTS 2>/dev/null)
  python3 -c 'import json,sys
o = json.loads(sys.stdin.read())
print(o["prefill_tokens_per_s"]["median"], o["decode_tokens_per_s"]["median"], o["vector_bits"],
      "%.0f%%" % (100 * o.get("weight_pages", {}).get("huge_page_share", float("nan"))))' <<<"$out" 2>/dev/null || echo nan nan ? ?
}

CPU=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
FLAGS=$(grep -m1 '^flags' /proc/cpuinfo || true)
ISA=$([[ $FLAGS == *avx512f* ]] && echo AVX-512 || { [[ $FLAGS == *avx2* ]] && echo AVX2 || echo "no AVX2"; })
echo "# $(date -u +%Y-%m-%dT%H:%MZ)  CPU: $CPU ($ISA, $(nproc) cores visible)  threads $THREADS  pp$PROMPT tg$GEN" \
     "$([ $COLD = 1 ] && echo '(cold page cache)')$([ $GGUF = 1 ] && echo ' (falcon-mamba on the GGUF files)')"
for label in "${CASES[@]}"; do
  c=${label%:gguf} gguf_case=$GGUF
  [ "$c" = "$label" ] || gguf_case=1
  shape=${c%-*} type=${c##*-}
  dir="$PEERS/models/$shape" gguf="$PEERS/models/$c.gguf" quant=""
  [ "$type" = f16 ] || quant=$type
  if [ $gguf_case = 1 ]; then dir="$gguf" quant=""; fi
  [ -e "$dir" ] && [ -f "$gguf" ] || { echo "peer-compare: missing $dir or $gguf; skipping $c" >&2; continue; }
  for ((r = 1; r <= ROUNDS; r++)); do
    order=(fm llama)
    ((r % 2 == 0)) && order=(llama fm)
    for e in "${order[@]}"; do
      [ $COLD = 1 ] && { if [ -d "$dir" ]; then evict "$gguf" "$dir"/*.safetensors; else evict "$gguf"; fi; }
      if [ "$e" = fm ]; then read -r pp tg vbits huge < <(run_fm "$c" "$dir" "$quant")
      else read -r pp tg < <(run_llama "$c" "$gguf"); vbits="" huge=""; fi
      printf '%-19s round %d  %-12s prefill %8.2f tok/s  decode %7.2f tok/s%s\n' "$label" "$r" \
        "$([ "$e" = fm ] && echo falcon-mamba || echo llama.cpp)" "$pp" "$tg" \
        "$([ -n "$vbits" ] && echo "  ($vbits-bit vectors, weights resident in 2 MiB pages: $huge)")"
      echo "$label $e $pp $tg" >>"$RESULTS"
    done
  done
done
python3 - "$RESULTS" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
cases = list(dict.fromkeys(r[0] for r in rows))
print(f"\n{'case':<19} {'':>9} {'falcon-mamba':>13} {'llama.cpp':>10} {'ratio':>6}   (medians, tokens/s)")
for c in cases:
    for i, what in ((2, "prefill"), (3, "decode")):
        med = {e: statistics.median(float(r[i]) for r in rows if r[0] == c and r[1] == e) for e in ("fm", "llama")}
        print(f"{c:<19} {what:>9} {med['fm']:>13.2f} {med['llama']:>10.2f} {med['fm'] / med['llama']:>5.2f}x")
EOF
