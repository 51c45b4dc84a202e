"""The first start's announcement: the admin's API token, printed once."""

from __future__ import annotations

import sys

from menagerie.core.identity.models import BootstrapResult


def announce_admin_token(result: BootstrapResult) -> None:
    """Print the first admin's API token, once: it is stored only as a hash."""
    token = result.admin_token
    assert token is not None
    # straight to the terminal, never through logging, so log files and collectors never hold it
    sys.stderr.write(
        "\n"
        "  Menagerie created the default tenant and its admin on this first start.\n"
        f"  Admin API token (shown once, store it now): {token.token}\n"
        "  Use it as: Authorization: Bearer <token>\n\n"
    )
    sys.stderr.flush()
