"""Agent definitions: shipped personas, operator files that override them, broken files,
auto-loaded documents, edits picked up live, and the seam for database agents."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import pytest
from pydantic import ValidationError

from menagerie.core.agents.definitions import AgentCatalog, AgentFileError, parse_agent
from menagerie.core.agents.models import AgentDefinition, Persona
from menagerie.core.errors import NotFound

BUILT_IN = {
    "mama-bear",
    "chat-assistant-001",
    "pm",
    "analyst",
    "architect",
    "sm",
    "dev",
    "gary",
    "panther",
    "metamorph",
}
MADACE_ROLES = ("pm", "analyst", "architect", "sm", "dev")

FILE_PM = """
agent:
  name: pm
  title: Our PM
  persona:
    role: Planner
    identity: I plan our projects.
  auto_load: [docs/overview.md]
"""


def touch_later(path: Path) -> None:
    """Move the mtime on: a rewrite inside the filesystem's clock tick would look unchanged."""
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 5))


def helper(title: str = "Helper", extra: str = "") -> str:
    return f"name: helper\ntitle: {title}\npersona: {{role: Helps, identity: I help.}}\n{extra}"


def test_built_ins_load_and_validate(tmp_path: Path) -> None:
    catalog = AgentCatalog(tmp_path / "agents")
    assert set(catalog.names()) == BUILT_IN
    for agent in catalog.list():
        assert agent.source == "builtin"
        assert agent.persona.role
        assert agent.persona.identity
        assert agent.persona.core_principles
        assert agent.auto_load == []  # shipped personas may not depend on the operator's files
        assert catalog.system_prompt(agent).startswith(f"You are {agent.title}")
    for role in MADACE_ROLES:  # BMAD roles: a menu of commands, each running a prompt
        agent = catalog.get(role)
        assert agent.module == "mam"
        assert agent.title.startswith("MADACE ")
        assert agent.menu
        assert all(item.trigger.startswith("*") for item in agent.menu)
        assert all(item.prompt in agent.prompts for item in agent.menu)
        assert "default" in agent.prompts
    assert catalog.get("mama-bear").suggestions
    assert catalog.get("gary").tools == ["*"]


def test_pm_matches_the_seed_example(tmp_path: Path) -> None:
    pm = AgentCatalog(tmp_path).get("pm")
    assert (pm.name, pm.version, pm.title, pm.module) == (
        "pm",
        "1.0.0",
        "MADACE Product Manager",
        "mam",
    )
    assert pm.description == "Planning and scale assessment agent"
    assert pm.persona.icon == "📋"
    assert pm.persona.role == "Product Manager & Project Planner"
    assert pm.persona.communication_style == "Professional, strategic, and concise"
    assert pm.persona.core_principles[:2] == [
        "Scale-appropriate planning is essential",
        "Clear requirements prevent wasted effort",
    ]
    assert pm.persona.critical_actions == ["Assess project scale before proposing solutions"]
    first = pm.menu[0]
    assert (first.trigger, first.title, first.description) == (
        "*plan-project",
        "Plan New Project",
        "Scale assessment and initial planning",
    )
    assert {"default", "planning"} <= set(pm.prompts)


def test_system_prompt_renders_the_persona_menu_and_documents() -> None:
    agent = AgentDefinition(
        name="writer",
        title="Writer",
        persona=Persona(
            role="Technical writer",
            identity="I write docs.",
            communication_style="Plain",
            core_principles=["Short sentences"],
            critical_actions=["Check every command"],
        ),
        menu=[{"trigger": "*outline", "title": "Outline", "prompt": "outline"}],
        prompts={"default": "Ask who reads it.", "outline": "Write headings only."},
    )
    prompt = agent.system_prompt({"style.md": "Use the active voice.\n"})
    for part in (
        "You are Writer (writer). I write docs.",
        "Role: Technical writer",
        "Communication style: Plain",
        "- Short sentences",
        "- Check every command",
        "Ask who reads it.",
        "- *outline: Outline",
        "When chosen: Write headings only.",
        "--- style.md ---\nUse the active voice.\n--- end of style.md ---",
    ):
        assert part in prompt


def test_validation_errors_name_the_field() -> None:
    with pytest.raises(ValidationError) as bad:
        AgentDefinition.model_validate({"name": "x", "title": "X", "persona": {"role": "r"}})
    assert ("persona", "identity") in [e["loc"] for e in bad.value.errors()]
    with pytest.raises(AgentFileError, match=r"a\.yaml: persona\.role: Field required"):
        parse_agent("name: a\ntitle: A\npersona: {identity: i}\n", "a.yaml", "file")
    with pytest.raises(AgentFileError, match=r"menu\[0\]\.prompt: 'nope'"):
        parse_agent(helper(extra="menu: [{trigger: '*go', prompt: nope}]\n"), "h.yaml", "file")
    with pytest.raises(AgentFileError, match="auto_load"):
        parse_agent(helper(extra="auto_load: [/etc/passwd]\n"), "h.yaml", "file")
    with pytest.raises(AgentFileError, match="temperature"):
        parse_agent(helper(extra="temperature: 9\n"), "h.yaml", "file")


def test_madace_list_prompts_are_accepted() -> None:
    agent = parse_agent(
        helper(extra="prompts: [{name: default, prompt: Be brief.}]\n"), "h.yaml", "file"
    )
    assert agent.prompts == {"default": "Be brief."}


def test_unknown_agent_lists_the_available_ones(tmp_path: Path) -> None:
    with pytest.raises(NotFound) as missing:
        AgentCatalog(tmp_path).get("invalid-name")
    assert missing.value.reason == "AGENT_NOT_FOUND"
    assert missing.value.message == "Agent 'invalid-name' does not exist"
    assert missing.value.details["available"] == sorted(BUILT_IN)


def test_files_override_a_builtin_and_add_agents(tmp_path: Path) -> None:
    agents = tmp_path / "agents"
    (agents / "docs").mkdir(parents=True)
    (agents / "docs" / "overview.md").write_text("We build a rocket.")
    (agents / "pm.yaml").write_text(FILE_PM)
    (agents / "helper.yml").write_text(helper())
    catalog = AgentCatalog(agents)
    pm = catalog.get("pm")
    assert (pm.title, pm.source) == ("Our PM", "file")
    assert catalog.get("helper").persona.identity == "I help."
    assert set(catalog.names()) == BUILT_IN | {"helper"}
    assert "We build a rocket." in catalog.system_prompt(pm)
    # documents are read when the prompt is built: an edit applies to the next turn
    (agents / "docs" / "overview.md").write_text("We build a boat.")
    assert "We build a boat." in catalog.system_prompt(pm)


def test_documents_may_live_in_the_data_directory(tmp_path: Path) -> None:
    agents = tmp_path / "agents"
    agents.mkdir()
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "overview.md").write_text("Shared overview.")
    (agents / "pm.yaml").write_text(FILE_PM)
    catalog = AgentCatalog(agents, documents_root=tmp_path)
    assert "Shared overview." in catalog.system_prompt(catalog.get("pm"))


def test_a_missing_auto_load_document_rejects_the_file_until_it_appears(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    agents = tmp_path / "agents"
    agents.mkdir()
    (agents / "pm.yaml").write_text(FILE_PM)
    catalog = AgentCatalog(agents)
    with caplog.at_level(logging.WARNING):
        pm = catalog.get("pm")
    assert pm.source == "builtin"  # the broken override is skipped, the built-in stays
    assert str(agents / "pm.yaml") in caplog.text
    assert "auto_load document(s) docs/overview.md not found" in caplog.text
    (agents / "docs").mkdir()
    (agents / "docs" / "overview.md").write_text("Now it exists.")
    assert catalog.get("pm").source == "file"


def test_documents_outside_the_directories_are_never_read(tmp_path: Path) -> None:
    agents = tmp_path / "data" / "agents"
    agents.mkdir(parents=True)
    (tmp_path / "secret.txt").write_text("TOP SECRET")
    (agents / "sneaky.yaml").write_text(helper(extra="auto_load: [../../secret.txt]\n"))
    catalog = AgentCatalog(agents)
    assert "helper" not in catalog.names()  # the escaping path counts as missing


def test_broken_files_are_skipped_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    agents = tmp_path / "agents"
    agents.mkdir()
    (agents / "bad-yaml.yaml").write_text("name: [unclosed\n")
    (agents / "bad-name.yaml").write_text(helper().replace("name: helper", "name: Not Valid"))
    (agents / "no-persona.yaml").write_text("name: empty\ntitle: x\n")
    (agents / "a-list.yaml").write_text("- one\n- two\n")
    (agents / "binary.yaml").write_bytes(b"\xff\xfe\x00bad")
    (agents / "good.yaml").write_text(helper())
    with caplog.at_level(logging.WARNING):
        names = AgentCatalog(agents).names()
    assert set(names) == BUILT_IN | {"helper"}
    for broken in ("bad-yaml", "bad-name", "no-persona", "a-list", "binary"):
        assert f"{broken}.yaml" in caplog.text
    assert "bad-name.yaml: name:" in caplog.text  # the field is named
    assert "no-persona.yaml: persona: Field required" in caplog.text


def test_two_files_defining_one_agent_keep_the_first(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    agents = tmp_path / "agents"
    agents.mkdir()
    (agents / "a.yaml").write_text(helper("From A"))
    (agents / "b.yaml").write_text(helper("From B"))
    with caplog.at_level(logging.WARNING):
        assert AgentCatalog(agents).get("helper").title == "From A"
    assert "b.yaml skipped" in caplog.text


def test_edits_are_picked_up_without_a_restart(tmp_path: Path) -> None:
    agents = tmp_path / "agents"
    catalog = AgentCatalog(agents)  # the directory may not exist yet
    assert set(catalog.names()) == BUILT_IN
    agents.mkdir()
    path = agents / "helper.yaml"
    path.write_text(helper("First"))
    assert catalog.get("helper").title == "First"
    path.write_text(helper("Second"))
    touch_later(path)
    assert catalog.get("helper").title == "Second"
    path.write_text("name: [broken\n")  # a bad edit takes the agent away, not the server
    touch_later(path)
    assert "helper" not in catalog.names()
    path.unlink()
    with pytest.raises(NotFound):
        catalog.get("helper")


class FakeSource:
    def __init__(self, agents: Sequence[AgentDefinition]) -> None:
        self.agents = list(agents)
        self.fail = False

    async def load(self) -> Sequence[AgentDefinition]:
        if self.fail:
            raise ConnectionError("database gone")
        return self.agents


async def test_a_source_adds_database_agents_over_files(tmp_path: Path) -> None:
    agents = tmp_path / "agents"
    agents.mkdir()
    (agents / "helper.yaml").write_text(helper("From file"))
    stored = parse_agent(helper("From database"), "row 1", "file")
    source = FakeSource([stored])
    catalog = AgentCatalog(agents, source=source)
    assert catalog.get("helper").title == "From file"  # nothing taken before the first sync
    await catalog.sync()
    helper_agent = catalog.get("helper")
    assert (helper_agent.title, helper_agent.source) == ("From database", "database")
    source.fail = True
    await catalog.sync()  # a failing source keeps what it gave last
    assert catalog.get("helper").source == "database"
    source.fail, source.agents = False, []
    await catalog.sync()
    assert catalog.get("helper").source == "file"
