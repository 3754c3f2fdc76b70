"""index members by tip time

The tip and check-in planners select the members whose tip time falls in the window
being planned; without this index a tick would scan every member.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 13:25:23.134322+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_members_tip_time", "members", ["tip_time"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_members_tip_time", table_name="members")
