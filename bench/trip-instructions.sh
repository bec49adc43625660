#!/usr/bin/env bash
# Instructions per ping-pong round trip, per side (see bench/trip-instructions.ts):
#   bench/trip-instructions.sh <bundle.mjs> <trips1> <trips2>
# runs the server and the client under valgrind (cachegrind, no cache simulation: it counts
# instructions) at <trips1> and at <trips2> round trips, both with `node --single-threaded`
# (V8's compile jobs and GC on the main thread, at points fixed by the work done), and prints
# each side's (count2 - count1) / (trips2 - trips1): in all, without TurboFan's own functions
# (`v8::internal::compiler::`: the late compile jobs between the two trip counts), and split into
# JIT code (valgrind's `???`: our JavaScript and node's, compiled), V8's builtins (`Builtins_*`:
# ICs, interpreter handlers, API calls) and the rest (C/C++: node, libuv, V8's runtime and GC, libc).
# KEEP=1 keeps the cachegrind files (cg_diff of the two shows per function what the trips added).
set -euo pipefail
bundle=$1; t1=$2; t2=$3
dir=$(mktemp -d /tmp/trip-instructions.XXXXXX)
# The server of the run in progress: ended if the script stops early (a failed client would
# otherwise leave it waiting for trips that never come), and the files go unless KEEP.
spid=
cleanup() {
  if [ -n "$spid" ]; then kill "$spid" 2>/dev/null || true; fi
  if [ -z "${KEEP:-}" ]; then rm -rf "$dir"; fi
}
trap cleanup EXIT
# Instructions in all, and in functions outside TurboFan, from a cachegrind output file.
count() {
  awk '/^fn=/ { f = substr($0, 4); c = index(f, "v8::internal::compiler::") > 0; j = f == "???"; b = f ~ /^Builtins_/; next }
       /^[0-9]/ { all += $2; if (c) tf += $2; else if (j) jit += $2; else if (b) bi += $2; else cc += $2 }
       END { printf "%.0f %.0f %.0f %.0f %.0f\n", all, all - tf, jit, bi, cc }' "$1"
}
run() {
  local n=$1
  rm -f "$dir/port"
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$dir/server.$n" --log-file=/dev/null \
    node --single-threaded "$bundle" server "$dir/port" "$n" &
  spid=$!
  for _ in $(seq 1 600); do [ -s "$dir/port" ] && break; sleep 0.2; done
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$dir/client.$n" --log-file=/dev/null \
    node --single-threaded "$bundle" client "$(cat "$dir/port")" "$n"
  wait "$spid"
  spid=
}
run "$t1"; run "$t2"
for side in server client; do
  read -r a1 r1 j1 b1 c1 < <(count "$dir/$side.$t1"); read -r a2 r2 j2 b2 c2 < <(count "$dir/$side.$t2")
  n=$((t2 - t1))
  echo "$side per trip: $(( (a2 - a1) / n )) in all, $(( (r2 - r1) / n )) outside TurboFan = JIT code $(( (j2 - j1) / n )) + builtins $(( (b2 - b1) / n )) + C/C++ $(( (c2 - c1) / n ))"
done
if [ -n "${KEEP:-}" ]; then echo "kept: $dir"; fi
