"""trios of merchants and the booster phase after a cohort's last session

Three tables (trios, their memberships with the digest planner's due column, the one-tap
encouragements), the cohort's end and booster overrides, and two member preferences
(share my progress with my trio, on for everyone already there; what to keep after the
booster phase).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 17:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "trios",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dissolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["cohort_id"],
            ["cohorts.id"],
            name=op.f("fk_trios_cohort_id_cohorts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trios")),
    )
    with op.batch_alter_table("trios", schema=None) as batch_op:
        batch_op.create_index(
            "ix_trios_cohort_id_dissolved_at", ["cohort_id", "dissolved_at"], unique=False
        )

    op.create_table(
        "encouragements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=True),
        sa.Column("sender_id", sa.Integer(), nullable=True),
        sa.Column("recipient_id", sa.Integer(), nullable=True),
        sa.Column("choice", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cohort_id"],
            ["cohorts.id"],
            name=op.f("fk_encouragements_cohort_id_cohorts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["members.id"],
            name=op.f("fk_encouragements_recipient_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["sender_id"],
            ["members.id"],
            name=op.f("fk_encouragements_sender_id_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_encouragements")),
        sa.UniqueConstraint(
            "sender_id", "recipient_id", "day", name=op.f("uq_encouragements_sender_id")
        ),
    )
    with op.batch_alter_table("encouragements", schema=None) as batch_op:
        batch_op.create_index(
            "ix_encouragements_cohort_id_sent_at", ["cohort_id", "sent_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_encouragements_recipient_id"), ["recipient_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_encouragements_sender_id"), ["sender_id"], unique=False
        )

    op.create_table(
        "trio_memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trio_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("left_reason", sa.String(length=16), nullable=True),
        sa.Column("next_digest_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_trio_memberships_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["trio_id"],
            ["trios.id"],
            name=op.f("fk_trio_memberships_trio_id_trios"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trio_memberships")),
        sa.UniqueConstraint("trio_id", "member_id", name=op.f("uq_trio_memberships_trio_id")),
    )
    with op.batch_alter_table("trio_memberships", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_trio_memberships_member_id"), ["member_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_trio_memberships_next_digest_at"), ["next_digest_at"], unique=False
        )

    with op.batch_alter_table("cohorts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("booster_until", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("members", schema=None) as batch_op:
        # Existing members share by default, as new ones do (the model's default).
        batch_op.add_column(
            sa.Column("share_with_trio", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(sa.Column("after_booster", sa.String(length=16), nullable=True))
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.alter_column("share_with_trio", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("after_booster")
        batch_op.drop_column("share_with_trio")

    with op.batch_alter_table("cohorts", schema=None) as batch_op:
        batch_op.drop_column("booster_until")
        batch_op.drop_column("ends_at")

    with op.batch_alter_table("trio_memberships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trio_memberships_next_digest_at"))
        batch_op.drop_index(batch_op.f("ix_trio_memberships_member_id"))

    op.drop_table("trio_memberships")
    with op.batch_alter_table("encouragements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_encouragements_sender_id"))
        batch_op.drop_index(batch_op.f("ix_encouragements_recipient_id"))
        batch_op.drop_index("ix_encouragements_cohort_id_sent_at")

    op.drop_table("encouragements")
    with op.batch_alter_table("trios", schema=None) as batch_op:
        batch_op.drop_index("ix_trios_cohort_id_dissolved_at")

    op.drop_table("trios")
