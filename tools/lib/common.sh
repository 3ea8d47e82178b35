# Shared steps of tools/run, tools/test and tools/bench: install what is missing, build.
# Sourced, not executed. Every step is idempotent.

KEYLEDGER_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# Debian packages the build and the tests need.
KEYLEDGER_PACKAGES=(
  cmake ninja-build ccache g++ pkg-config
  libboost-dev libboost-system-dev librdkafka-dev nlohmann-json3-dev libssl-dev catch2
  curl jq openssl
)

# What tools/test adds: a JVM and Maven for the Kafka broker, kcat to read the topic as an
# outside consumer would, iproute2 for finding free ports.
KEYLEDGER_TEST_PACKAGES=(openjdk-17-jre-headless maven kcat iproute2 python3 python3-jsonschema python3-venv)

# schemathesis (PyPI) for the API fuzzing test, in a virtualenv in the user's cache.
SCHEMATHESIS_VERSION=4.32.5

log() { printf '==> %s\n' "$*" >&2; }

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

# Installs schemathesis into its virtualenv once; prints the path of its executable.
ensure_schemathesis() {
  local venv=${XDG_CACHE_HOME:-$HOME/.cache}/keyledger/schemathesis-$SCHEMATHESIS_VERSION
  if [[ ! -x $venv/bin/schemathesis ]]; then
    log "installing schemathesis $SCHEMATHESIS_VERSION from PyPI into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" >&2
  fi
  echo "$venv/bin/schemathesis"
}

# Configures (once) and builds into $1 with build type $2.
build_keyledger() {
  local dir=$1 type=$2
  if [[ ! -f $dir/build.ninja ]]; then
    log "configuring $type build in $dir"
    cmake -S "$KEYLEDGER_ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" >/dev/null
  fi
  log "building"
  cmake --build "$dir"
}
