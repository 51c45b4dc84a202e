"""The account fields people type: email addresses, names, roles; and the admin check.

An account may have no address of its own (the bootstrap admin, a tenant admin made by
`menagerie tokens`, a wallet sign-in). Every API that shows an email shows a string, so such
an account shows `placeholder_email(id)`: `<user id>@no-email.invalid`. `.invalid` is reserved
(RFC 2606) and can never reach anyone; the id keeps it unique. Nobody may choose an address
in that domain, and sending an account's own placeholder back changes nothing.
"""

from __future__ import annotations

import re

from menagerie.core.errors import Invalid
from menagerie.core.identity.models import Principal

MAX_NAME = 200
PLACEHOLDER_DOMAIN = "no-email.invalid"
MAX_EMAIL = 254
_ROLE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
# an address: a dot-atom local part of at most 64 characters, then host labels of letters,
# digits and inner hyphens, the last starting with a letter. Wire models publish the same
# pattern (with MAX_EMAIL as maxLength), so a client's schema accepts what core does.
_ATOM = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_TOP = "[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])"
EMAIL_PATTERN = rf"^(?=[^@]{{1,64}}@){_ATOM}(\.{_ATOM})*@({_LABEL}\.)+{_TOP}$"
_EMAIL = re.compile(EMAIL_PATTERN)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def normalise_email(value: object, *, field: str = "email") -> str:
    """A lower-cased, trimmed address, or `Invalid`. ASCII only: IDNs come as punycode."""
    email = value.strip() if isinstance(value, str) else ""
    valid = email.isascii() and len(email) <= MAX_EMAIL and _EMAIL.match(email) is not None
    email = email.lower()
    if not valid or email.rpartition("@")[2] == PLACEHOLDER_DOMAIN:
        received = value[:100] if isinstance(value, str) else value
        raise Invalid(
            "email is not a valid email address",
            field=field,
            received=received if isinstance(received, str | None) else "<not a string>",
            expected="an email address such as user@example.com",
        )
    return email


def placeholder_email(user_id: str) -> str:
    """The address an account without one shows (see the module's docstring)."""
    return f"{user_id.lower()}@{PLACEHOLDER_DOMAIN}"


def is_placeholder(value: object, user_id: str) -> bool:
    return isinstance(value, str) and value.strip().lower() == placeholder_email(user_id)


def clean_name(value: object, *, field: str = "name") -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not name or len(name) > MAX_NAME or _CONTROL.search(name):
        raise Invalid(
            f"{field} must be 1 to {MAX_NAME} printable characters",
            field=field,
            received=value[:100] if isinstance(value, str) else "<not a string>",
            expected=f"a non-empty string of at most {MAX_NAME} characters",
        )
    return name


def clean_roles(value: object, *, field: str = "roles") -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(
        isinstance(role, str) and _ROLE.match(role) for role in value
    ):
        raise Invalid(
            "roles must be a list of role names such as ['admin']",
            field=field,
            received="<invalid roles>",
            expected="a list of lower-case role names",
        )
    return sorted(set(value))


def require_admin(principal: Principal) -> None:
    principal.require_admin("this operation")
