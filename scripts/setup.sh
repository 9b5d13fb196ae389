#!/usr/bin/env bash
# scripts/setup.sh — installs every dependency from Debian 12 packages, then
# configures and builds inferd into build/. Idempotent: packages already
# present are not reinstalled and the build is incremental.
#
#   scripts/setup.sh                # Release build in build/
#   BUILD_TYPE=Debug scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# When this run started: under CI=true scripts/test.sh fits its sanitizer and
# fuzz phases into CI's time budget counted from here.
mkdir -p build && date +%s >build/.setup-started

packages=(
  build-essential cmake ninja-build pkg-config ccache git clang-format python3
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto
  libabsl-dev prometheus-cpp-dev nlohmann-json3-dev
  libpcre2-dev libutf8proc-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3-grpcio python3-protobuf
  libssl-dev  # OpenSSL, which gRPC links: TLS file checks, API-key digests (server/auth)
  libboost-dev  # Boost.Beast/Asio: the OpenAI-compatible HTTP API (server/http, docs/openai-api.md)
  # Chat templates (engine/chat): Python's Jinja2, embedded (docs/chat-templates.md).
  libpython3-dev python3-jinja2
)
# Tools the test suite drives but the binaries do not need (kept apart: the
# Dockerfile installs only `packages`): Prometheus and promtool for the
# metrics and rules tests, yamllint, kubectl (kustomize) and shellcheck for
# deploy/, clang with libFuzzer for scripts/fuzz.sh, openssl (the command)
# for the certificates the TLS tests make, python3-jsonschema for checking
# structured output against its schema, curl for the raw SSE bytes of the
# HTTP API, Node.js and npm for the OpenAI Node SDK test.
test_tools=(prometheus yamllint python3-yaml python3-jsonschema shellcheck clang libclang-rt-14-dev openssl
            curl)
# Debian's kubectl; an image that already ships one keeps it (the packages conflict).
command -v kubectl >/dev/null 2>&1 || test_tools+=(kubernetes-client)
# Debian's Node.js (18) and npm, unless a Node.js with npm is already there
# (NodeSource's nodejs bundles npm and conflicts with Debian's npm package).
{ command -v node && command -v npm; } >/dev/null 2>&1 || test_tools+=(nodejs npm)
packages+=("${test_tools[@]}")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The OpenAI Node SDK for tests/integration/openai_node_sdk_test.py, at the
# version package-lock.json pins. Without it (no registry) that test skips.
if ! (cd tests/integration/node && npm ci --no-audit --no-fund --loglevel=error); then
  echo "setup: warning: npm ci in tests/integration/node failed: the OpenAI Node SDK test will skip" >&2
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}"
cmake --build build -j "$(nproc)"
echo "setup: built build/inferd and build/inferctl"
