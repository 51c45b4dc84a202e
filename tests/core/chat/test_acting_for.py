"""The one rule for acting on another user's objects (`Principal.acting_for`), as the chat
store applies it: an admin acts for any user of its tenant, anyone else as themself."""

from __future__ import annotations

from menagerie.core.identity.models import ADMIN, Principal

ADMIN_P = Principal("t1", "usr_admin", frozenset({ADMIN}))
ALICE = Principal("t1", "usr_alice")


def test_an_admin_acts_as_the_named_user_without_admin_rights() -> None:
    acting = ADMIN_P.acting_for("usr_bob")
    assert (acting.tenant_id, acting.user_id, acting.is_admin) == ("t1", "usr_bob", False)
    assert ADMIN_P.may_act_for("usr_bob")


def test_anyone_else_stays_themself() -> None:
    assert ALICE.acting_for("usr_bob") is ALICE
    assert not ALICE.may_act_for("usr_bob")
    assert ALICE.may_act_for("usr_alice")


def test_naming_nobody_or_oneself_changes_nothing() -> None:
    assert ADMIN_P.acting_for(None) is ADMIN_P
    assert ADMIN_P.acting_for("") is ADMIN_P
    assert ADMIN_P.acting_for("usr_admin") is ADMIN_P
