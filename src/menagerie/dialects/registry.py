"""Every dialect Menagerie serves, by name."""

from __future__ import annotations

from menagerie.dialects import gary, madace, metamorph, openai, panthers, podplay
from menagerie.http.dialect import DialectSpec

DIALECTS: dict[str, DialectSpec] = {
    spec.name: spec
    for spec in (podplay.SPEC, madace.SPEC, panthers.SPEC, metamorph.SPEC, gary.SPEC, openai.SPEC)
}
