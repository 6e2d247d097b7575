#!/usr/bin/env bash
# Same-run engine comparison with llama.cpp: Hearth's engine bench and llama.cpp's llama-bench alternate on the SAME
# synthetic GGUF file (random weights, placeholder vocab), so machine drift affects both alike; print the ratios.
#   bench/compare-llama.sh LLAMA_BENCH_BINARY [mix=q4_k_m] [threads=2] [pp=512] [tg=128] [rounds=2]
# Build llama-bench yourself from a llama.cpp checkout (cmake -DGGML_NATIVE=ON; target llama-bench); nothing of it is
# committed here.
set -euo pipefail
llama=${1:?path to llama-bench}; mix=${2:-q4_k_m}; threads=${3:-2}; pp=${4:-512}; tg=${5:-128}; rounds=${6:-2}
root=$(cd "$(dirname "$0")/.." && pwd)
dll="$root/bench/Hearth.Bench/bin/Release/net10.0/Hearth.Bench.dll"
[ -f "$dll" ] || dotnet build -c Release "$root/bench/Hearth.Bench" >/dev/null
export HEARTH_BENCH_MODEL=${HEARTH_BENCH_MODEL:-/tmp/hearth-compare-llama-1b-$mix.gguf}
# The order alternates each round; on shared machines whose speed drifts by several times within minutes, read the
# median of the per-round ratios (printed last), not any single figure.
results=$(mktemp)
hearth() {
  local h; h=$(dotnet "$dll" engine llama-1b "$mix" "$threads" 1 "$pp" "$tg" | grep "threads $threads:")
  hp=$(sed -E 's/.*pp[0-9]+ ([0-9.]+).*/\1/' <<<"$h"); ht=$(sed -E 's/.*tg[0-9]+ ([0-9.]+).*/\1/' <<<"$h")
  hc=$(sed -E 's/.*ceiling ([0-9.]+) tok\/s.*/\1/' <<<"$h"); hb=$(sed -E 's/.*of measured ([0-9.]+) GB\/s.*/\1/' <<<"$h")
}
llamacpp() {
  local l; l=$("$llama" -m "$HEARTH_BENCH_MODEL" -t "$threads" -p "$pp" -n "$tg" -r 1 -o csv 2>/dev/null | tail -n 2)
  lp=$(sed -n 1p <<<"$l" | awk -F, '{gsub(/"/,"",$(NF-1)); print $(NF-1)}'); lt=$(sed -n 2p <<<"$l" | awk -F, '{gsub(/"/,"",$(NF-1)); print $(NF-1)}')
}
for r in $(seq 1 "$rounds"); do
  if (( r % 2 )); then hearth; llamacpp; else llamacpp; hearth; fi
  # The generation ceiling (measured read bandwidth ÷ weight bytes) is measured by the Hearth bench right after its run.
  awk -v r="$r" -v m="$mix" -v t="$threads" -v hp="$hp" -v ht="$ht" -v lp="$lp" -v lt="$lt" -v pp="$pp" -v tg="$tg" -v hc="$hc" -v hb="$hb" 'BEGIN {
    printf "round %d %s %d threads: hearth pp%d %.2f tg%d %.2f | llama.cpp pp%d %.2f tg%d %.2f | ceiling %.2f tok/s (%.1f GB/s): hearth %.2f, llama.cpp %.2f | ratio pp %.2f tg %.2f\n",
      r, m, t, pp, hp, tg, ht, pp, lp, tg, lt, hc, hb, ht / hc, lt / hc, hp / lp, ht / lt }' | tee -a "$results"
done
median() { sort -g | awk '{ v[NR] = $1 } END { m = int((NR + 1) / 2); printf "%.2f", (NR % 2 ? v[m] : (v[m] + v[m+1]) / 2) }'; }
echo "median ratio over $rounds rounds: pp $(awk '{print $(NF-2)}' "$results" | median), tg $(awk '{print $NF}' "$results" | median)"
rm -f "$results"
