"""challenges: the trainer's weekly challenges and the members' submissions (issue 13)

Also a photo or a voice note as a question, and a voice note as the trainer's answer
(three nullable columns on questions).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 17:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("media_kind", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("media_file_id", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("answer_file_id", sa.String(length=256), nullable=True))
    op.create_table(
        "challenges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("library_id", sa.String(length=64), nullable=True),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("proof", sa.String(length=8), nullable=False),
        sa.Column("audience", sa.String(length=64), nullable=False),
        sa.Column("timing", sa.String(length=8), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("showcases", sa.Integer(), nullable=False),
        sa.Column("showcased_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["members.id"],
            name=op.f("fk_challenges_author_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["cohort_id"],
            ["cohorts.id"],
            name=op.f("fk_challenges_cohort_id_cohorts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_challenges")),
    )
    with op.batch_alter_table("challenges", schema=None) as batch_op:
        batch_op.create_index(
            "ix_challenges_cohort_id_deadline_at", ["cohort_id", "deadline_at"], unique=False
        )
        batch_op.create_index(
            "ix_challenges_showcased_at_deadline_at",
            ["showcased_at", "deadline_at"],
            unique=False,
        )
    op.create_table(
        "challenge_submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("challenge_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("answer", sa.String(length=8), nullable=False),
        sa.Column("proof_kind", sa.String(length=8), nullable=True),
        sa.Column("file_id", sa.String(length=256), nullable=True),
        sa.Column("link", sa.String(length=1000), nullable=True),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consent", sa.Boolean(), nullable=True),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("bravo_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("bravo_by_id", sa.Integer(), nullable=True),
        sa.Column("starred_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["bravo_by_id"],
            ["members.id"],
            name=op.f("fk_challenge_submissions_bravo_by_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["challenges.id"],
            name=op.f("fk_challenge_submissions_challenge_id_challenges"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_challenge_submissions_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_challenge_submissions")),
    )
    with op.batch_alter_table("challenge_submissions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_challenge_submissions_challenge_id_current",
            ["challenge_id", "current"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_challenge_submissions_member_id"), ["member_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("challenge_submissions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_challenge_submissions_member_id"))
        batch_op.drop_index("ix_challenge_submissions_challenge_id_current")
    op.drop_table("challenge_submissions")
    with op.batch_alter_table("challenges", schema=None) as batch_op:
        batch_op.drop_index("ix_challenges_showcased_at_deadline_at")
        batch_op.drop_index("ix_challenges_cohort_id_deadline_at")
    op.drop_table("challenges")
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.drop_column("answer_file_id")
        batch_op.drop_column("media_file_id")
        batch_op.drop_column("media_kind")
