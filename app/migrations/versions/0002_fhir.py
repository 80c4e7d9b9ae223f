"""documents, attachments and tombstones (FHIR DocumentReference, Binary, 410 Gone)

Revision ID: 0002_fhir
Revises: 0001
Create Date: 2026-11-28 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0002_fhir"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tombstone",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("deleted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("pk"),
        sa.UniqueConstraint("kind", "key", name="uq_tombstone_kind_key"),
    )
    op.create_table(
        "attachment",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("resource_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("patient_pk", sa.Integer(), nullable=True),
        sa.Column("content_type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha1", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["patient_pk"], ["patient.pk"]),
        sa.PrimaryKeyConstraint("pk"),
    )
    op.create_index(op.f("ix_attachment_patient_pk"), "attachment", ["patient_pk"], unique=False)
    op.create_index(op.f("ix_attachment_resource_id"), "attachment", ["resource_id"], unique=True)
    op.create_table(
        "document",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("resource_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("patient_pk", sa.Integer(), nullable=False),
        sa.Column("attachment_pk", sa.Integer(), nullable=False),
        sa.Column("source_kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("source_sop_instance_uid", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("master_identifier_system", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("master_identifier", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("content_type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("creation_date", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("service_date", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("date", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("resource_json", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["attachment_pk"], ["attachment.pk"]),
        sa.ForeignKeyConstraint(["patient_pk"], ["patient.pk"]),
        sa.PrimaryKeyConstraint("pk"),
        sa.UniqueConstraint("master_identifier", name="uq_document_master_identifier"),
        sa.UniqueConstraint("source_sop_instance_uid", name="uq_document_source_sop_instance_uid"),
    )
    for column in ("attachment_pk", "date", "patient_pk", "status", "updated_at"):
        op.create_index(op.f(f"ix_document_{column}"), "document", [column], unique=False)
    op.create_index(op.f("ix_document_resource_id"), "document", ["resource_id"], unique=True)
    op.create_table(
        "document_index",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("document_pk", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("system", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("display", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(["document_pk"], ["document.pk"]),
        sa.PrimaryKeyConstraint("pk"),
    )
    op.create_index(
        op.f("ix_document_index_document_pk"), "document_index", ["document_pk"], unique=False
    )
    op.create_index(
        "ix_document_index_kind_value", "document_index", ["kind", "value"], unique=False
    )


def downgrade() -> None:
    op.drop_table("document_index")
    op.drop_table("document")
    op.drop_table("attachment")
    op.drop_table("tombstone")
