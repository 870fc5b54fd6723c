#!/usr/bin/env bash
# Mutation run for the Raft core: every mutant in mutants.txt (one realistic one-line bug) is applied to a scratch
# copy of the sources, built, and the default (non-Slow) Consensus suite is run against it. A mutant is killed when
# the suite fails and survives when it passes; one that does not compile (or that sed leaves unchanged) is reported
# as invalid and not counted. Usage: tests/Consensus.Tests/mutation/run.sh [filter-regex]
# Every build and test takes /tmp/pyralog-build.lock (the machine is shared). Results: $OUT (default
# /tmp/pyralog-mutation), one line per mutant in results.txt plus the suite's log for each.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
out=${OUT:-/tmp/pyralog-mutation}
filter=${1:-.}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$out" "$scratch/tests"
cp -r "$repo/Consensus" "$scratch/"
cp -r "$repo/tests/Consensus.Tests" "$scratch/tests/"
cp "$repo/Directory.Build.props" "$repo/Directory.Packages.props" "$repo/global.json" "$scratch/"
[ -f "$repo/NuGet.config" ] && cp "$repo/NuGet.config" "$scratch/"
rm -rf "$scratch/Consensus/bin" "$scratch/Consensus/obj" "$scratch/tests/Consensus.Tests/bin" "$scratch/tests/Consensus.Tests/obj"
project="$scratch/tests/Consensus.Tests/Pyralog.Consensus.Tests.csproj"
build() { flock /tmp/pyralog-build.lock dotnet build "$project" -c Release -v q -nologo >"$1" 2>&1; }
suite() { flock /tmp/pyralog-build.lock timeout 600 dotnet test "$project" -c Release --no-build --filter "Category!=Slow" >"$1" 2>&1; }

echo "baseline: build and suite must pass unmutated"
build "$out/baseline.build.log" || { echo "baseline does not build (see $out/baseline.build.log)"; exit 2; }
suite "$out/baseline.test.log" || { echo "baseline suite fails (see $out/baseline.test.log)"; exit 2; }

: >"$out/results.txt"
killed=0 survived=0 invalid=0 n=0
while IFS=$'\t' read -r file expr what; do
  [[ -z "$file" || "$file" == \#* ]] && continue
  n=$((n + 1))
  [[ "$n $what" =~ $filter ]] || continue
  target="$scratch/Consensus/$file"
  cp "$target" "$target.orig"
  sed -i -e "$expr" "$target"
  if cmp -s "$target" "$target.orig"; then
    echo "mutant $n: INVALID (sed changed nothing) — $what" | tee -a "$out/results.txt"
    invalid=$((invalid + 1))
  elif ! build "$out/mutant$n.build.log"; then
    echo "mutant $n: INVALID (does not compile) — $what" | tee -a "$out/results.txt"
    invalid=$((invalid + 1))
  else
    start=$(date +%s)
    if suite "$out/mutant$n.test.log"; then
      echo "mutant $n: SURVIVED — $what" | tee -a "$out/results.txt"
      survived=$((survived + 1))
    else
      failed=$(grep -cE '^\s+Failed Pyralog' "$out/mutant$n.test.log")
      first=$(grep -m1 -oE '^\s+Failed Pyralog[^ ]*' "$out/mutant$n.test.log" | sed 's/^ *Failed Pyralog.Consensus.Tests.//')
      echo "mutant $n: killed in $(( $(date +%s) - start ))s, $failed failing tests (first $first) — $what" | tee -a "$out/results.txt"
      killed=$((killed + 1))
    fi
  fi
  mv "$target.orig" "$target"
done <"$here/mutants.txt"
echo "score: $killed killed / $((killed + survived)) valid mutants ($survived survived, $invalid invalid)" | tee -a "$out/results.txt"
