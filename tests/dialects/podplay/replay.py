"""Seed 000's own examples, for tests that send its requests and hold the answers to its
responses field by field."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from tests.contract import seeds


def example(method: str, path: str, kind: str = "response") -> Any:
    """The seed's JSON example of `kind` (request, response, error) for one endpoint."""
    for endpoint in seeds.endpoints("000"):
        if endpoint.method == method and endpoint.path == path:
            for found in endpoint.examples:
                if getattr(found, f"is_{kind}") and found.value is not None:
                    return found.value
    raise LookupError(f"seed 000 has no {kind} example for {method} {path}")


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return type(value).__name__


def assert_like(
    shown: Any,
    actual: Any,
    where: str = "",
    *,
    nullable: Collection[str] = (),
    keyed: Collection[str] = (),
) -> None:
    """Every field the seed shows is in `actual` with the seed's JSON type, recursively.

    `nullable`: paths that may be null (each a documented stand-in in docs/contract.md);
    `keyed`: objects whose keys are names (providers, quotas): each value is held to the
    seed's first one.
    """
    if shown is None:
        return  # the seed shows no value
    if actual is None:
        assert where in nullable, f"{where}: null where the seed shows {_kind(shown)}"
        return
    if isinstance(shown, dict):
        assert isinstance(actual, dict), f"{where}: {actual!r} is not an object"
        if where in keyed:
            model = next(iter(shown.values()))
            for key, value in actual.items():
                assert_like(model, value, f"{where}.{key}", nullable=nullable, keyed=keyed)
            return
        for key, value in shown.items():
            path = f"{where}.{key}" if where else key
            assert key in actual, f"{path}: shown by the seed, missing from the answer"
            assert_like(value, actual[key], path, nullable=nullable, keyed=keyed)
        return
    if isinstance(shown, list):
        assert isinstance(actual, list), f"{where}: {actual!r} is not an array"
        if shown:
            for item in actual:
                assert_like(shown[0], item, f"{where}[]", nullable=nullable, keyed=keyed)
        return
    expected, got = _kind(shown), _kind(actual)
    assert got == expected or (expected == "number" and got == "integer"), (
        f"{where}: seed shows {expected} ({shown!r}), answer has {got} ({actual!r})"
    )
