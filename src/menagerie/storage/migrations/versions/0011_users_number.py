"""users: an integer number beside the opaque id

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 13:40:00.000000

Crazy Gary's users have integer ids. Each user's number is a function of its id
(core/identity/numbers.py), so existing users are numbered here the same way new ones are.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from menagerie.core.identity.numbers import user_number

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

users = sa.table("users", sa.column("id", sa.String), sa.column("number", sa.BigInteger))


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("number", sa.BigInteger(), nullable=True))
    bind = op.get_bind()
    for (user_id,) in bind.execute(sa.select(users.c.id)).all():
        bind.execute(
            users.update().where(users.c.id == user_id).values(number=user_number(user_id))
        )
    with op.batch_alter_table("users") as batch:
        batch.alter_column("number", existing_type=sa.BigInteger(), nullable=False)
        batch.create_unique_constraint("uq_users_number", ["number"])


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("uq_users_number", type_="unique")
        batch.drop_column("number")
