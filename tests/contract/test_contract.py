"""Each dialect against its seed: every documented route served (or named pending with the
issue that builds it), every example's fields in the route's wire model with their JSON
types, every request example accepted, every error code one the seed lists."""

from __future__ import annotations

import pytest
from tests.contract import harness, seeds
from tests.contract.specs import CONTRACTS

from menagerie.dialects.registry import DIALECTS

ENDPOINTS = [
    pytest.param(contract, endpoint, id=f"{contract.dialect}:{endpoint}")
    for contract in CONTRACTS
    for endpoint in seeds.endpoints(contract.seed)
]
BY_DIALECT = [pytest.param(c, id=c.dialect) for c in CONTRACTS]


def _built(contract: harness.Contract, endpoint: seeds.Endpoint) -> bool:
    return contract.key(endpoint) not in contract.pending


@pytest.mark.parametrize(("contract", "endpoint"), ENDPOINTS)
def test_documented_route_is_served_or_pending(
    contract: harness.Contract, endpoint: seeds.Endpoint
) -> None:
    key = contract.key(endpoint)
    served = key in harness.served(contract.dialect)
    if key in contract.pending:
        assert not served, f"{key} is served now: remove it from PENDING"
    else:
        assert served, f"{key} (seed line {endpoint.line}) is not served"


@pytest.mark.parametrize(("contract", "endpoint"), ENDPOINTS)
def test_response_examples_fit_the_wire_model(
    contract: harness.Contract, endpoint: seeds.Endpoint
) -> None:
    if not _built(contract, endpoint) or contract.key(endpoint) in contract.not_json:
        pytest.skip("pending, or not a JSON response")
    problems = []
    for example in endpoint.examples:
        if example.value is None and not example.fields:
            continue
        if example.is_error:
            problems += harness.error_problems(contract, endpoint, example)
        elif example.is_response:
            problems += harness.response_problems(contract, endpoint, example)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("contract", "endpoint"), ENDPOINTS)
def test_request_examples_are_accepted(
    contract: harness.Contract, endpoint: seeds.Endpoint
) -> None:
    examples = [e for e in endpoint.examples if e.is_request and (e.value is not None or e.fields)]
    if not _built(contract, endpoint) or not examples:
        pytest.skip("pending, or no request example")
    problems = [p for e in examples for p in harness.request_problems(contract, endpoint, e)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("contract", BY_DIALECT)
def test_error_codes_are_the_seeds_own(contract: harness.Contract) -> None:
    envelope = DIALECTS[contract.dialect].envelope
    foreign = sorted(c for c in envelope.vocabulary() if not contract.allows_code(c))
    assert not foreign, f"{contract.dialect} can answer codes its seed does not list: {foreign}"


@pytest.mark.parametrize("name", list(DIALECTS))
def test_every_operation_documents_its_answers(name: str) -> None:
    problems = harness.undocumented_operations(name)
    assert not problems, "\n".join(problems)
