# Shared steps of tools/run, tools/test and tools/bench: install what is missing, build.
# Sourced, not executed. Every step is idempotent.

KEYLEDGER_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# Debian packages the build and the tests need.
KEYLEDGER_PACKAGES=(
  cmake ninja-build ccache g++ pkg-config
  libboost-dev libboost-system-dev libboost-program-options-dev librdkafka-dev nlohmann-json3-dev libssl-dev catch2
  libjemalloc-dev
  curl jq openssl
)

# What tools/test adds: a JVM and Maven for the Kafka broker, kcat to read the topic as an
# outside consumer would, iproute2 for finding free ports, Chromium and its driver for the
# console's browser tests.
KEYLEDGER_TEST_PACKAGES=(openjdk-17-jre-headless maven kcat iproute2 python3 python3-jsonschema python3-venv
                         chromium chromium-driver)

# schemathesis (PyPI) for the API fuzzing test, in a virtualenv in the user's cache, with every
# package it pulls in pinned by version and hash in tests/api_fuzz/requirements.lock.
SCHEMATHESIS_LOCK=$KEYLEDGER_ROOT/tests/api_fuzz/requirements.lock

# The browser tests' tools (tests/console): Selenium from PyPI, pinned by version and hash in
# requirements.lock, and the axe-core accessibility checker from npm, pinned by integrity in
# package-lock.json; with Debian's Chromium and chromedriver (KEYLEDGER_TEST_PACKAGES).
CONSOLE_TEST_LOCKS=("$KEYLEDGER_ROOT/tests/console/requirements.lock" "$KEYLEDGER_ROOT/tests/console/package.json"
                    "$KEYLEDGER_ROOT/tests/console/package-lock.json")

log() { printf '==> [%4ss] %s\n' "$SECONDS" "$*" >&2; }  # seconds since the command started

as_root() {
  if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi
}

# Installs the named Debian packages that are not installed yet (none: no apt-get at all).
ensure_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [[ ${#missing[@]} == 0 ]] && return 0
  log "installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Installs the locked schemathesis into its virtualenv once per lock file; prints the path of
# its executable.
ensure_schemathesis() {
  local digest venv
  digest=$(sha256sum "$SCHEMATHESIS_LOCK" | cut -c1-16)
  venv=${XDG_CACHE_HOME:-$HOME/.cache}/keyledger/schemathesis-$digest
  if [[ ! -x $venv/bin/schemathesis ]]; then
    log "installing schemathesis from PyPI as pinned in tests/api_fuzz/requirements.lock into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check --no-deps --require-hashes -r "$SCHEMATHESIS_LOCK" >&2
  fi
  echo "$venv/bin/schemathesis"
}

# Installs the console tests' tools once per set of lock files into a directory of the user's
# cache (venv/ and node_modules/); prints the directory.
ensure_console_test_tools() {
  local digest dir
  digest=$(cat "${CONSOLE_TEST_LOCKS[@]}" | sha256sum | cut -c1-16)
  dir=${XDG_CACHE_HOME:-$HOME/.cache}/keyledger/console-tests-$digest
  if [[ ! -f $dir/installed ]]; then
    log "installing Selenium (PyPI) and axe-core (npm) for the console tests into $dir"
    command -v npm >/dev/null || ensure_packages npm
    rm -rf "$dir"
    mkdir -p "$dir"
    python3 -m venv "$dir/venv"
    "$dir/venv/bin/pip" install -q --disable-pip-version-check --no-deps --require-hashes \
      -r "$KEYLEDGER_ROOT/tests/console/requirements.lock" >&2
    cp "$KEYLEDGER_ROOT/tests/console/package.json" "$KEYLEDGER_ROOT/tests/console/package-lock.json" "$dir/"
    (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
    touch "$dir/installed"
  fi
  echo "$dir"
}

# Configures (once) and builds into $1 with build type $2: the targets named after it, or
# every target. With --unity first, as a unity build (16 sources per translation unit, as the
# sanitizer builds below): from nothing, the whole tree took 826 s of CPU instead of 1,886 s
# (7 min on two cores instead of about 16), which is most of what a fresh machine spends
# before its first test; an edited source then recompiles its batch (up to about 5 min for the
# one with the HTTP server) instead of itself. tools/test, tools/run and tools/cluster share
# the tree `build` this way; tools/bench's Release tree is not one (its figures compare with
# earlier runs').
build_keyledger() {
  local unity=OFF debug_flags="-O2 -g -DNDEBUG"  # CMake's RelWithDebInfo
  if [[ $1 == --unity ]]; then
    # The tree tools/test, tools/run and tools/cluster share is built whole and not debugged
    # in: line tables (-g1) are enough for backtraces, and its biggest unit compiled in 115 s
    # of CPU with them against 153 s with -g.
    unity=ON debug_flags="-O2 -g1 -DNDEBUG"
    shift
  fi
  local dir=$1 type=$2
  shift 2
  if [[ ! -f $dir/build.ninja ]] || ! grep -qs "^CMAKE_UNITY_BUILD:[A-Z]*=$unity\$" "$dir/CMakeCache.txt" ||
    ! grep -qsx "CMAKE_CXX_FLAGS_RELWITHDEBINFO:STRING=$debug_flags" "$dir/CMakeCache.txt"; then
    log "configuring $type build in $dir (unity build: $unity)"
    cmake -S "$KEYLEDGER_ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$debug_flags" \
      -DCMAKE_UNITY_BUILD="$unity" -DCMAKE_UNITY_BUILD_BATCH_SIZE=16 >/dev/null
  fi
  log "building ${*:-everything}"
  cmake --build "$dir" ${1:+--target "$@"}
}

# Debian's Clang for the sanitizer and libFuzzer builds (GCC has no libFuzzer).
KEYLEDGER_CLANG_PACKAGES=(clang-16 libclang-rt-16-dev)
# What turns a sanitizer report's addresses into functions and lines. The runtimes look for
# llvm-symbolizer on PATH, which no package above installs (a report then is bare addresses,
# as CI's first one was); binutils' addr2line, there with g++, is enough.
KEYLEDGER_SANITIZER_SYMBOLIZER=external_symbolizer_path=$(command -v addr2line || echo /usr/bin/addr2line)
# The options every ASan+UBSan run here uses (tools/test adds where reports are written).
KEYLEDGER_ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:$KEYLEDGER_SANITIZER_SYMBOLIZER
KEYLEDGER_UBSAN_OPTIONS=print_stacktrace=1:$KEYLEDGER_SANITIZER_SYMBOLIZER

# Configures (once) and builds the given targets into $1 with Clang 16 and the sanitizers
# in $2 (e.g. address,undefined). Optimised lightly and with line tables only: the suites
# run fast enough and the build stays cheap. $3 is ON to add the libFuzzer harnesses.
# These trees are built whole and never edited in, so they are unity builds (16 sources per
# translation unit: the Boost, JSON and Catch headers are parsed once per batch, not once per
# file): the ASan+UBSan build took 780 s of CPU instead of 1,457. A name defined twice at
# file scope in one target's sources fails them, so helpers tests share live in tests/support/.
build_sanitized() {
  local dir=$1 sanitizers=$2 fuzz=$3
  shift 3
  # (Configured again when a tree from before the unity builds is found.)
  if [[ ! -f $dir/build.ninja ]] || ! grep -qs '^CMAKE_UNITY_BUILD:[A-Z]*=ON$' "$dir/CMakeCache.txt"; then
    log "configuring the $sanitizers build in $dir (clang-16)"
    CXX=clang++-16 cmake -S "$KEYLEDGER_ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
      -DKEYLEDGER_SANITIZE="$sanitizers" -DKEYLEDGER_FUZZ="$fuzz" \
      -DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=16 >/dev/null
  fi
  log "building $* in $dir"
  cmake --build "$dir" --target "$@"
}

# The libFuzzer harnesses of fuzz/, by name (fuzz/NAME_fuzz.cpp).
KEYLEDGER_FUZZERS=(event_decoder log_recovery command_requests input_parsers key_parser)

# Runs each named harness of build tree $1 for $2 seconds, two at a time, from the seed
# corpus in fuzz/corpus/NAME plus what earlier runs found (in $1/fuzz-corpus/NAME). A crash
# or a violated property is saved in $1/fuzz-crashes/NAME and fails the run.
run_fuzzers() {
  local dir=$1 seconds=$2
  shift 2
  local failed=() pids=() names=()
  for name in "$@"; do
    mkdir -p "$dir/fuzz-corpus/$name" "$dir/fuzz-crashes/$name"
    log "fuzzing $name for ${seconds}s"
    ASAN_OPTIONS=$KEYLEDGER_ASAN_OPTIONS UBSAN_OPTIONS=$KEYLEDGER_UBSAN_OPTIONS \
      "$dir/fuzz/${name}_fuzz" -max_total_time="$seconds" -print_final_stats=1 \
        -artifact_prefix="$dir/fuzz-crashes/$name/" \
        "$dir/fuzz-corpus/$name" "$KEYLEDGER_ROOT/fuzz/corpus/$name" >"$dir/fuzz-$name.log" 2>&1 &
    pids+=($!) names+=("$name")
    if [[ ${#pids[@]} == 2 ]]; then
      wait "${pids[0]}" || failed+=("${names[0]}")
      pids=("${pids[@]:1}") names=("${names[@]:1}")
    fi
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || failed+=("${names[$i]}")
  done
  for name in "$@"; do
    local runs cov
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/fuzz-$name.log")
    cov=$(grep -o 'cov: [0-9]*' "$dir/fuzz-$name.log" | tail -1)
    log "  $name: ${runs:-?} inputs, $cov"
  done
  if [[ ${#failed[@]} -gt 0 ]]; then
    for name in "${failed[@]}"; do
      log "fuzzer $name failed; its output ($dir/fuzz-$name.log) ends:"
      tail -40 "$dir/fuzz-$name.log" >&2
      log "the input is in $dir/fuzz-crashes/$name/; replay it with $dir/fuzz/${name}_fuzz FILE"
    done
    return 1
  fi
}
