"""Scout's project templates and plans.

A plan is a list of steps, each a few files written into the project's workspace and then
command lines run there (no shell: each line is one program and its arguments, under the
sandbox's limits). The agent loop makes the plan when a real model is configured
(`agent_prompt` asks for it as JSON, `from_answer` reads it); when the offline model is the
only one, or the model's answer is not a usable plan, the template's fixed plan below is used.

The fixed plan, the same for every template but for the sources step_2 writes:

- step_1 *Initialize Development Environment*: `scout.json` (the project's manifest: name,
  description, template, features, configuration); `mkdir -p src public`, `python3 --version`.
- step_2 *Set Up Project Structure*: the template's sources (below) and `build.py`.
- step_3 *Implement Core Features*: one module per requested feature under `src/features/`.
- step_4 *Build Production Bundle*: `python3 build.py` (public/ copied to `dist/`, the
  feature list rendered into `dist/index.html`, the manifest beside it).
- step_5 *Verify Build Output*: `python3 build.py --check` (fails without `dist/index.html`).

The build needs only the host's Python, since a workspace has no network for npm; the
output directory is `dist/`, which a deploy serves.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from menagerie.core.errors import Invalid
from menagerie.core.scout.models import PlanStep

OUTPUT_DIR = "dist"
DEFAULT_TEMPLATE = "static-site"
MAX_STEPS = 12
MAX_COMMANDS = 20
MAX_FILES = 40
MAX_FILE_CHARS = 100_000
FEATURE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

BUILD_PY = '''"""Scout's offline build: public/ copied to dist/, the features rendered into it."""
import html
import json
import shutil
import sys
from pathlib import Path

root = Path.cwd()
dist = root / "dist"
if "--check" in sys.argv:
    index = dist / "index.html"
    if not index.is_file() or not index.read_text().strip():
        sys.exit("dist/index.html is missing")
    print(f"dist/ holds {sum(1 for p in dist.rglob('*') if p.is_file())} files")
    sys.exit(0)
manifest = json.loads((root / "scout.json").read_text())
shutil.rmtree(dist, ignore_errors=True)
shutil.copytree(root / "public", dist)
items = "".join(f"<li>{html.escape(f)}</li>" for f in manifest["features"])
index = dist / "index.html"
index.write_text(index.read_text().replace("{{features}}", items))
(dist / "scout.json").write_text(json.dumps(manifest, indent=2))
print(f"built {manifest['name']} into dist/")
'''


def _page(title: str, body: str) -> str:
    return (
        f'<!doctype html>\n<html>\n<head><meta charset="utf-8"><title>{title}</title>'
        '<link rel="stylesheet" href="styles.css"></head>\n'
        f"<body>\n<h1>{title}</h1>\n{body}\n<ul>{{{{features}}}}</ul>\n</body>\n</html>\n"
    )


STYLES = "body { font-family: sans-serif; margin: 2rem; }\n"

# each template: the technologies it stands for, and the sources step_2 writes
TEMPLATES: dict[str, dict[str, Any]] = {
    "static-site": {
        "technologies": ("html", "css"),
        "feature_ext": "js",
        "sources": lambda name: {
            "public/index.html": _page(name, "<p>A static site built by Scout.</p>"),
            "public/styles.css": STYLES,
        },
    },
    "react-typescript": {
        "technologies": ("react", "typescript"),
        "feature_ext": "ts",
        "sources": lambda name: {
            "package.json": json.dumps(
                {
                    "name": name,
                    "private": True,
                    "scripts": {"build": "python3 build.py"},
                    "dependencies": {"react": "^18.3.1", "react-dom": "^18.3.1"},
                    "devDependencies": {"typescript": "^5.4.0"},
                },
                indent=2,
            ),
            "tsconfig.json": json.dumps(
                {"compilerOptions": {"jsx": "react-jsx", "strict": True, "target": "ES2020"}},
                indent=2,
            ),
            "src/App.tsx": (f"export default function App() {{\n  return <h1>{name}</h1>;\n}}\n"),
            "public/index.html": _page(name, '<div id="root"></div>'),
            "public/styles.css": STYLES,
        },
    },
    "python-api": {
        "technologies": ("python",),
        "feature_ext": "py",
        "sources": lambda name: {
            "app.py": (
                '"""The API\'s entry point."""\n\n\ndef health() -> dict[str, str]:\n'
                '    return {"status": "ok"}\n'
            ),
            "public/index.html": _page(name, "<p>The API's documentation.</p>"),
            "public/styles.css": STYLES,
        },
    },
}


def check_template(name: str | None) -> str:
    chosen = name or DEFAULT_TEMPLATE
    if chosen not in TEMPLATES:
        raise Invalid(
            f"unknown template {chosen!r}; templates: {', '.join(TEMPLATES)}",
            field="template",
            received=chosen,
            expected=" | ".join(TEMPLATES),
        )
    return chosen


def check_features(features: list[str]) -> tuple[str, ...]:
    for feature in features:
        if not FEATURE.fullmatch(feature):
            raise Invalid(
                "a feature is a lower-case word (letters, digits, - and _)",
                field="features",
                received=feature,
                expected=FEATURE.pattern,
            )
    return tuple(dict.fromkeys(features))


def technologies(template: str, configuration: Mapping[str, str]) -> tuple[str, ...]:
    """The template's own, then what the configuration names (framework, styling …)."""
    found = [*TEMPLATES[template]["technologies"], *configuration.values()]
    return tuple(dict.fromkeys(t.lower() for t in found if t))


def manifest(
    name: str,
    description: str,
    template: str,
    features: tuple[str, ...],
    configuration: Mapping[str, str],
) -> str:
    return json.dumps(
        {
            "name": name,
            "description": description,
            "template": template,
            "features": list(features),
            "configuration": dict(configuration),
        },
        indent=2,
    )


def fixed_plan(
    name: str,
    description: str,
    template: str,
    features: tuple[str, ...],
    configuration: Mapping[str, str],
) -> tuple[PlanStep, ...]:
    spec = TEMPLATES[template]
    ext = spec["feature_ext"]
    feature_files = {
        f"src/features/{feature}.{ext}": f"// {feature}: implemented by Scout\n"
        if ext != "py"
        else f'"""{feature}: implemented by Scout."""\n'
        for feature in features
    }
    return (
        PlanStep(
            "step_1",
            "Initialize Development Environment",
            {"scout.json": manifest(name, description, template, features, configuration)},
            ("mkdir -p src public", "python3 --version"),
        ),
        PlanStep(
            "step_2",
            "Set Up Project Structure",
            {**spec["sources"](name), "build.py": BUILD_PY},
            (),
        ),
        PlanStep("step_3", "Implement Core Features", feature_files, ()),
        PlanStep("step_4", "Build Production Bundle", {}, ("python3 build.py",)),
        PlanStep("step_5", "Verify Build Output", {}, ("python3 build.py --check",)),
    )


def agent_prompt(
    name: str,
    description: str,
    template: str,
    features: tuple[str, ...],
    configuration: Mapping[str, str],
    example: tuple[PlanStep, ...],
) -> str:
    shown = {"steps": [{k: v for k, v in s.to_json().items() if k != "id"} for s in example]}
    return (
        f"Plan the project {name!r} ({description or 'no description'}), template {template}, "
        f"features {', '.join(features) or 'none'}, configuration {json.dumps(configuration)}.\n"
        "Its steps run in a workspace with no network: each writes files (paths inside the "
        "workspace) and then runs command lines, one program each, no shell. The build must "
        f"leave a static site in {OUTPUT_DIR}/. Answer with JSON only, in this shape (the "
        f"plan used when no model is available):\n{json.dumps(shown)}"
    )


_JSON = re.compile(r"\{.*\}", re.S)


def from_answer(text: str) -> tuple[PlanStep, ...]:
    """The agent's plan; ValueError when the answer is not a plan of the asked shape."""
    found = _JSON.search(text)
    if found is None:
        raise ValueError("no JSON object in the answer")
    data = json.loads(found.group(0))
    items = data.get("steps") if isinstance(data, dict) else None
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_STEPS:
        raise ValueError(f"`steps` must list 1 to {MAX_STEPS} steps")
    steps = []
    for index, item in enumerate(items, start=1):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ValueError(f"step {index} has no name")
        files = item.get("files") or {}
        commands = item.get("commands") or []
        if not isinstance(files, dict) or len(files) > MAX_FILES:
            raise ValueError(f"step {index}: `files` must map up to {MAX_FILES} paths to text")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
            raise ValueError(f"step {index}: `files` must map paths to text")
        if any(len(v) > MAX_FILE_CHARS for v in files.values()):
            raise ValueError(f"step {index}: a file is over {MAX_FILE_CHARS} characters")
        if not isinstance(commands, list) or len(commands) > MAX_COMMANDS:
            raise ValueError(f"step {index}: `commands` must list up to {MAX_COMMANDS} lines")
        if not all(isinstance(c, str) and c.strip() for c in commands):
            raise ValueError(f"step {index}: every command is a line of text")
        steps.append(PlanStep(f"step_{index}", item["name"][:120], files, tuple(commands)))
    return tuple(steps)
