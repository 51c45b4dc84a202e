"""One contract per seed: which dialect serves it, what is pending, and its documented codes."""

from tests.contract.specs.gary import CONTRACT as GARY
from tests.contract.specs.madace import CONTRACT as MADACE
from tests.contract.specs.metamorph import CONTRACT as METAMORPH
from tests.contract.specs.panthers import CONTRACT as PANTHERS
from tests.contract.specs.podplay import CONTRACT as PODPLAY

CONTRACTS = (PODPLAY, MADACE, PANTHERS, METAMORPH, GARY)
