"""PHR delivery: recipients, the delivery outbox and its attempts, pull packages

Revision ID: 0004_phr
Revises: 0001
Create Date: 2026-11-28 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004_phr"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "phr_recipient",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("client_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("jwks", sa.Text(), nullable=True),
        sa.Column("jwks_uri", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("endpoint", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("push_token", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_phr_recipient_client_id"), "phr_recipient", ["client_id"], unique=True)
    op.create_table(
        "phr_delivery",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("recipient_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("patient_pk", sa.Integer(), nullable=False),
        sa.Column("study_pk", sa.Integer(), nullable=True),
        sa.Column("study_uid", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("requested_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("release_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("kid", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("body_type", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("body_size", sa.BigInteger(), nullable=True),
        sa.Column("files", sa.Integer(), nullable=True),
        sa.Column("lease_owner", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("lease_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("delivered_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["phr_recipient.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_phr_delivery_created_at"), "phr_delivery", ["created_at"], unique=False
    )
    op.create_index(
        "ix_phr_delivery_due", "phr_delivery", ["state", "next_attempt_at"], unique=False
    )
    op.create_index(
        op.f("ix_phr_delivery_patient_pk"), "phr_delivery", ["patient_pk"], unique=False
    )
    op.create_index(
        op.f("ix_phr_delivery_recipient_id"), "phr_delivery", ["recipient_id"], unique=False
    )
    op.create_index(op.f("ix_phr_delivery_study_pk"), "phr_delivery", ["study_pk"], unique=False)
    op.create_table(
        "phr_package",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("recipient_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("patient_pk", sa.Integer(), nullable=False),
        sa.Column("study_uid", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("kid", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["phr_recipient.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_phr_package_expires_at"), "phr_package", ["expires_at"], unique=False)
    op.create_index(op.f("ix_phr_package_patient_pk"), "phr_package", ["patient_pk"], unique=False)
    op.create_index(
        op.f("ix_phr_package_recipient_id"), "phr_package", ["recipient_id"], unique=False
    )
    op.create_table(
        "phr_attempt",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("finished_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["phr_delivery.id"],
        ),
        sa.PrimaryKeyConstraint("pk"),
    )
    op.create_index(
        op.f("ix_phr_attempt_delivery_id"), "phr_attempt", ["delivery_id"], unique=False
    )
    op.create_table(
        "phr_package_file",
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("package_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("blob_key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("byte_offset", sa.BigInteger(), nullable=False),
        sa.Column("byte_length", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("content_type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(
            ["package_id"],
            ["phr_package.id"],
        ),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index(
        op.f("ix_phr_package_file_package_id"), "phr_package_file", ["package_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_phr_package_file_package_id"), table_name="phr_package_file")
    op.drop_table("phr_package_file")
    op.drop_index(op.f("ix_phr_attempt_delivery_id"), table_name="phr_attempt")
    op.drop_table("phr_attempt")
    op.drop_index(op.f("ix_phr_package_recipient_id"), table_name="phr_package")
    op.drop_index(op.f("ix_phr_package_patient_pk"), table_name="phr_package")
    op.drop_index(op.f("ix_phr_package_expires_at"), table_name="phr_package")
    op.drop_table("phr_package")
    op.drop_index(op.f("ix_phr_delivery_study_pk"), table_name="phr_delivery")
    op.drop_index(op.f("ix_phr_delivery_recipient_id"), table_name="phr_delivery")
    op.drop_index(op.f("ix_phr_delivery_patient_pk"), table_name="phr_delivery")
    op.drop_index("ix_phr_delivery_due", table_name="phr_delivery")
    op.drop_index(op.f("ix_phr_delivery_created_at"), table_name="phr_delivery")
    op.drop_table("phr_delivery")
    op.drop_index(op.f("ix_phr_recipient_client_id"), table_name="phr_recipient")
    op.drop_table("phr_recipient")
