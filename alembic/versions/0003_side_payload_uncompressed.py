"""Store side-result payloads uncompressed on Postgres (raw float64 vectors do not compress)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 19:58:00
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # pglz tried, and failed, to compress every ~200 KB payload: pure server CPU on the distributed hot path.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE side_results ALTER COLUMN payload SET STORAGE EXTERNAL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE side_results ALTER COLUMN payload SET STORAGE EXTENDED")
