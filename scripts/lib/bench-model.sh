# Sourced by scripts/bench-serve and scripts/bench-replicas: the serving benchmarks' model and
# clients, built once per generator version and reused (under BENCH_DIR, default
# ~/.cache/riskscore/bench).
#
#   bench_model BIN SCALE   sets `features` (the synthetic data at SCALE, seed 42, as a feature
#                           matrix) and `model` (3 folds, class weights, learning rate 0.05, up
#                           to 1,000 rounds), making what is missing with BIN
#   bench_ids FILE          writes the ids of every 37th client, at most 5,000, to FILE

bench_model() {
  local bin="$1" scale="$2" seed=42
  local root="${BENCH_DIR:-$HOME/.cache/riskscore/bench}"
  local gen
  gen="$(cat crates/riskscore-data/src/synth/*.rs | sha256sum | cut -c1-12)"
  local data="$root/scale-$scale-seed-$seed-$gen"
  if [ ! -f "$data/.complete" ]; then
    "$bin" -q synth --scale "$scale" --seed "$seed" --out "$data"
    touch "$data/.complete"
  fi
  features="$data.features.parquet"
  [ -f "$features" ] || "$bin" -q features "$data" --out "$features"
  model="$data.model"
  if [ ! -f "$model/manifest.json" ]; then
    echo "training the benchmark model into $model" >&2
    "$bin" -q train --data "$features" --out "$model" --folds 3 --trials 0 \
      --imbalance class_weight --learning-rate 0.05 --max-rounds 1000 --bootstrap 50 --no-baseline
  fi
}

bench_ids() {
  "${PWD}/.venv/bin/python" - "$features" > "$1" <<'PY'
import sys, pyarrow.parquet as pq
t = pq.read_table(sys.argv[1], columns=["SK_ID_CURR"]).column(0).to_pylist()
print("\n".join(str(i) for i in t[::37][:5000]))
PY
}
