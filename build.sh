#!/usr/bin/env bash
# EdgeMail build driver.
#   ./build.sh run                 publish for this machine and start `edgemail serve` on the embedded config
#   ./build.sh test                build, publish both targets, run every test (unit, protocol, end-to-end, arm64 under qemu)
#   ./build.sh publish RID         RID = linux-x64 | linux-arm64  → artifacts/RID/edgemail
#   ./build.sh bench               the benchmark; writes BENCHMARKS.md
#   ./build.sh fuzz [SECONDS]      a long fuzzing run of the command parser and DATA reader
# Missing tools are installed with apt-get (idempotent and quiet; a no-op when present).
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
ART=$ROOT/artifacts
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

say() { printf '%s\n' "build.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

# ---- dependencies ---------------------------------------------------------------------------
# package → a file that proves it is installed
declare -A DEPS_BUILD=(
  [clang]=/usr/bin/clang
  [lld]=/usr/bin/ld.lld
  [zlib1g-dev]=/usr/include/zlib.h
)
declare -A DEPS_CROSS=(
  [gcc-aarch64-linux-gnu]=/usr/bin/aarch64-linux-gnu-gcc
  [libc6-dev-arm64-cross]=/usr/aarch64-linux-gnu/lib/libc.so
  [qemu-user]=/usr/bin/qemu-aarch64
)
declare -A DEPS_TEST=(
  [swaks]=/usr/bin/swaks
  [curl]=/usr/bin/curl
  [python3]=/usr/bin/python3
  [python3-aiosmtpd]=/usr/lib/python3/dist-packages/aiosmtpd/__init__.py
  [dnsmasq-base]=/usr/sbin/dnsmasq
  [postfix]=/usr/sbin/smtp-sink
  [openssl]=/usr/bin/openssl
  [procps]=/usr/bin/ps
  [strace]=/usr/bin/strace     # bench/run.sh: fsync calls per message; the unit's system call filter test
  [systemd]=/usr/bin/systemd-analyze   # the unit file: offline exposure score, @system-service expansion
)

apt_install() {
  local missing=() pkg
  local -n table=$1
  for pkg in "${!table[@]}"; do [ -e "${table[$pkg]}" ] || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install them"
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing ${missing[*]}"
  if [ ! -e /tmp/.edgemail-apt-updated ]; then
    $sudo apt-get update -qq >/dev/null && touch /tmp/.edgemail-apt-updated
  fi
  # postfix asks debconf questions; answer "no configuration" so nothing is started or changed.
  echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections 2>/dev/null || true
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
}

check_dotnet() {
  command -v dotnet >/dev/null || die "the .NET 10 SDK is needed (dotnet on PATH)"
}

# Debian's arm64 libssl3, unpacked with a private apt state: no dpkg architecture is added.
QEMU_LIBS=$ART/qemu-arm64-root
arm64_libssl() {
  local lib=$QEMU_LIBS/usr/lib/aarch64-linux-gnu/libssl.so.3
  [ -e "$lib" ] && return 0
  local st=$ART/.apt-arm64
  mkdir -p "$st/lists/partial" "$st/archives/partial" "$st/sources" "$QEMU_LIBS"
  : > "$st/status"
  local src
  for src in /etc/apt/sources.list.d/*.sources; do
    [ -e "$src" ] || continue
    grep -q 'debian' "$src" || continue
    sed 's/^Types: deb$/Types: deb\nArchitectures: arm64/' "$src" > "$st/sources/$(basename "$src")"
  done
  if [ -s /etc/apt/sources.list ]; then
    sed -n 's/^deb \(\[[^]]*\] \)\?\(http[^ ]*\) \(.*\)$/deb [arch=arm64] \2 \3/p' /etc/apt/sources.list > "$st/sources/list.list"
  fi
  local opts=(-o "Dir::State=$st" -o "Dir::State::status=$st/status" -o "Dir::Cache=$st"
              -o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$st/sources"
              -o "APT::Architecture=arm64" -o "APT::Architectures::=arm64" -o "Debug::NoLocking=1")
  apt-get "${opts[@]}" update -qq >/dev/null 2>&1 || die "could not read Debian's arm64 package lists"
  (cd "$st" && apt-get "${opts[@]}" download libssl3 >/dev/null 2>&1) || die "could not download arm64 libssl3"
  dpkg -x "$st"/libssl3_*.deb "$QEMU_LIBS"
  [ -e "$lib" ] || die "arm64 libssl3 unpacked but $lib is missing"
}

# ---- publish ----------------------------------------------------------------------------------
MAX_BINARY=$((10 * 1024 * 1024))
publish() {
  local rid=$1 out=$ART/$1 log
  check_dotnet
  apt_install DEPS_BUILD
  local extra=()
  case "$rid" in
    linux-x64) ;;
    linux-arm64)
      apt_install DEPS_CROSS
      # Cross-link with clang + lld against Debian's aarch64 cross libc.
      extra=(-p:CppCompilerAndLinker=clang -p:LinkerFlavor=lld) ;;
    *) die "unknown RID '$rid' (linux-x64 or linux-arm64)" ;;
  esac
  mkdir -p "$out"
  log=$out/publish.log
  say "publishing $rid"
  if ! dotnet publish src/EdgeMail/EdgeMail.csproj -c Release -r "$rid" -o "$out" -nologo "${extra[@]}" >"$log" 2>&1; then
    grep -E 'error|warning' "$log" | sort -u >&2 || cat "$log" >&2
    die "publish $rid failed (full log: $log)"
  fi
  # NativeAOT must be warning-free: any trim/AOT analysis warning fails the build.
  if grep -E 'warning IL[23][0-9]{3}' "$log" >&2; then die "publish $rid produced IL2xxx/IL3xxx warnings"; fi
  rm -f "$out"/*.dbg "$out"/*.pdb
  local size; size=$(stat -c %s "$out/edgemail")
  [ "$size" -le "$MAX_BINARY" ] || die "$rid binary is $size bytes, over the 10 MiB budget"
  say "$rid: $out/edgemail ($size bytes)"
}

host_rid() {
  case "$(uname -m)" in
    x86_64) echo linux-x64 ;;
    aarch64) echo linux-arm64 ;;
    *) die "unsupported machine $(uname -m)" ;;
  esac
}

# ---- verbs ------------------------------------------------------------------------------------
cmd_run() {
  local rid; rid=$(host_rid)
  publish "$rid"
  mkdir -p "$ART/run"
  cd "$ART/run"
  say "starting edgemail serve (embedded default config; spool in $ART/run/spool); Ctrl-C stops it"
  exec "$ART/$rid/edgemail" serve "$@"
}

cmd_test() {
  check_dotnet
  apt_install DEPS_BUILD
  apt_install DEPS_CROSS
  apt_install DEPS_TEST
  arm64_libssl
  publish linux-x64
  publish linux-arm64
  export EDGEMAIL_BIN_X64=$ART/linux-x64/edgemail
  export EDGEMAIL_BIN_ARM64=$ART/linux-arm64/edgemail
  export EDGEMAIL_QEMU_LIBS=$QEMU_LIBS/usr/lib/aarch64-linux-gnu
  local log=$ART/test.log rc=0
  say "running tests"
  dotnet test EdgeMail.sln -c Release -nologo --logger "console;verbosity=normal" 2>&1 | tee "$log" \
    | grep -E '^\s*(Failed|Passed!|Failed!|Skipped) |error|Assert|Expected|Actual|at EdgeMail' || true
  rc=${PIPESTATUS[0]}
  tests/fuzz/run.sh 60 || rc=1
  # The one closing line CI reads: totals over every test project.
  awk '/^ +Passed: +[0-9]+$/ { p += $2 } /^ +Failed: +[0-9]+$/ { f += $2 } /^ +Skipped: +[0-9]+$/ { s += $2 }
       END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
  return "$rc"
}

cmd_bench() {
  [ -x bench/run.sh ] || die "bench/run.sh is missing"
  apt_install DEPS_BUILD
  apt_install DEPS_TEST
  publish "$(host_rid)"
  bench/run.sh "$ART/$(host_rid)/edgemail"
}

cmd_fuzz() {
  [ -x tests/fuzz/run.sh ] || die "tests/fuzz/run.sh is missing"
  tests/fuzz/run.sh "${1:-3600}"
}

verb=${1:-}
[ $# -gt 0 ] && shift
case "$verb" in
  run) cmd_run "$@" ;;
  test) cmd_test ;;
  publish) [ $# -eq 1 ] || die "usage: ./build.sh publish linux-x64|linux-arm64"; publish "$1" ;;
  bench) cmd_bench ;;
  fuzz) cmd_fuzz "$@" ;;
  *) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
