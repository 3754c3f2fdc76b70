"""store the next due time of tips and check-ins

The tip and check-in planners used to look at every member (by tip time) and every active
objective on each tick; they now read only the rows whose stored due time has come, on an
index. `ix_members_tip_time` served the old way and goes.

Existing rows are left NULL: NULL means "work it out at the next tick", which the planners
do in bounded batches on the same indexes (bot/delivery/due.py). The first tick after the
upgrade therefore looks at everyone once, as every tick did before.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 16:15:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_tip_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_members_next_tip_at"), ["next_tip_at"], unique=False)
        batch_op.drop_index(batch_op.f("ix_members_tip_time"))
    with op.batch_alter_table("objectives", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("next_checkin_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            "ix_objectives_status_next_checkin_at", ["status", "next_checkin_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("objectives", schema=None) as batch_op:
        batch_op.drop_index("ix_objectives_status_next_checkin_at")
        batch_op.drop_column("next_checkin_at")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_members_tip_time"), ["tip_time"], unique=False)
        batch_op.drop_index(batch_op.f("ix_members_next_tip_at"))
        batch_op.drop_column("next_tip_at")
