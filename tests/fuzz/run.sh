#!/usr/bin/env bash
# Fuzz the decoders for SECONDS (default 60): tests/fuzz/run.sh SECONDS [extra driver arguments]
# Builds the driver into artifacts/fuzz (private to this script), replays the checked-in
# regressions, then fuzzes every target. Findings land in tests/fuzz/findings/<target>/;
# turn each into a regression by moving the .bin into tests/fuzz/regressions/<target>/.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_TO_RUN=${1:-60}
[ $# -gt 0 ] && shift
ART=artifacts/fuzz
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build tests/fuzz/EdgeMail.Fuzz/EdgeMail.Fuzz.csproj -c Release --artifacts-path "$ART" -nologo -v q >/dev/null \
  || { dotnet build tests/fuzz/EdgeMail.Fuzz/EdgeMail.Fuzz.csproj -c Release --artifacts-path "$ART" -nologo -v q; exit 1; }
DRIVER=$ART/bin/EdgeMail.Fuzz/release/EdgeMail.Fuzz.dll
if [ -d tests/fuzz/regressions ]; then
  dotnet "$DRIVER" --replay tests/fuzz/regressions
fi
# A fixed seed per day: reproducible within a day, new paths across days. Override with --seed N.
exec dotnet "$DRIVER" --seconds "$SECONDS_TO_RUN" --seed "$(date -u +%Y%m%d)" \
  --corpus tests/fuzz/corpus --findings tests/fuzz/findings "$@"
