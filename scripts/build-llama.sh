#!/usr/bin/env bash
# Build llama.cpp's `llama-server` and the shared libraries llama-cpp-python loads, once,
# from the llama.cpp sources inside the llama-cpp-python sdist on PyPI (no other download).
# The result is cached outside the repo and reused until the version changes:
#   $PODSIFT_LLAMA_CACHE (default ~/.cache/podsift/llama.cpp)/<version>/{llama-server,lib*.so}
# Prints that folder. About 10 minutes on 2 cores the first time; instant afterwards.
# Usage: scripts/build-llama.sh [PYTHON]   (the python whose pip downloads the sdist)
set -euo pipefail
version="${PODSIFT_LLAMA_CPP_PYTHON:-0.3.36}"
python="${1:-python3}"
# x86-64 with AVX2 (any recent CI or developer machine), not -march=native: the compiler
# here reports AMX that the hypervisor does not let a process use (SIGILL at load).
cpu="${PODSIFT_LLAMA_CPU:-avx2}"
cache="${PODSIFT_LLAMA_CACHE:-$HOME/.cache/podsift/llama.cpp}/$version-$cpu"
if [ -x "$cache/llama-server" ] && [ -f "$cache/libllama.so" ]; then
  echo "$cache"
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$python" -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$version" -d "$work" >&2
tar -xzf "$work"/llama_cpp_python-*.tar.gz -C "$work"
src="$(echo "$work"/llama_cpp_python-*/vendor/llama.cpp)"
case "$cpu" in
  native) cpu_flags=(-DGGML_NATIVE=ON) ;;
  avx2) cpu_flags=(-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON) ;;
  *) cpu_flags=(-DGGML_NATIVE=OFF) ;;
esac
# No web UI (its build downloads), no curl/OpenSSL (models come from local files),
# shared libraries with $ORIGIN rpaths so the folder can be copied as a whole.
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
  -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_APP=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
  -DBUILD_SHARED_LIBS=ON -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON -DCMAKE_INSTALL_RPATH='$ORIGIN' \
  "${cpu_flags[@]}" >&2
cmake --build "$work/build" --config Release -j "$(nproc)" --target llama-server llama ggml mtmd >&2
mkdir -p "$cache.tmp"
find "$work/build" \( -name 'llama-server' -o -name '*.so' -o -name '*.so.*' \) \( -type f -o -type l \) \
  -exec cp -a {} "$cache.tmp/" \;
rm -rf "$cache" && mv "$cache.tmp" "$cache"
echo "$cache"
