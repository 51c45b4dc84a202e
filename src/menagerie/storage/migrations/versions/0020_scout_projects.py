"""scout projects: reserved for issue 12 (PodPlay Scout projects); filled by the change that needs it

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 17:20:00.000000
"""

from collections.abc import Sequence

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
