"""Probes as plug-ins: shared per-sample columns in `samples`, embed's own in `embed_samples`

`samples.text_sha` becomes `input_sha` and `cosine` the probe-agnostic `score`, with `agreed` beside it;
norms, ratio, max |diff| and dimensions move to `embed_samples`; `noise_samples.cosine` becomes `score`.
Every existing sweep is carried over (its rows copied, `agreed` computed with the sweep's own tau).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 22:40:00
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_EMBED = ("norm_legacy", "norm_candidate", "norm_ratio", "max_abs_diff", "dim_legacy", "dim_candidate")


def upgrade() -> None:
    op.create_table(
        "embed_samples",
        sa.Column("sweep_id", sa.String(40), sa.ForeignKey("sweeps.id", ondelete="CASCADE",
                                                           name="fk_embed_samples_sweep_id_sweeps"), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("norm_legacy", sa.Float()),
        sa.Column("norm_candidate", sa.Float()),
        sa.Column("norm_ratio", sa.Float()),
        sa.Column("max_abs_diff", sa.Float()),
        sa.Column("dim_legacy", sa.Integer()),
        sa.Column("dim_candidate", sa.Integer()),
        sa.PrimaryKeyConstraint("sweep_id", "idx", name="pk_embed_samples"),
    )
    cols = ", ".join(_EMBED)
    op.execute(f"INSERT INTO embed_samples (sweep_id, idx, {cols}) SELECT sweep_id, idx, {cols} FROM samples")
    with op.batch_alter_table("samples") as batch:
        batch.alter_column("text_sha", new_column_name="input_sha", existing_type=sa.String(16))
        batch.alter_column("cosine", new_column_name="score", existing_type=sa.Float())
        batch.add_column(sa.Column("agreed", sa.Boolean()))
        for name in _EMBED:
            batch.drop_column(name)
    with op.batch_alter_table("noise_samples") as batch:
        batch.alter_column("cosine", new_column_name="score", existing_type=sa.Float())
    conn = op.get_bind()
    for sweep_id, params in conn.execute(sa.text("SELECT id, params FROM sweeps")).all():
        p = json.loads(params) if isinstance(params, str) else (params or {})
        conn.execute(sa.text("UPDATE samples SET agreed = (score >= :tau) WHERE sweep_id = :id AND score IS NOT NULL"),
                     {"tau": float(p.get("tau", 0.9999)), "id": sweep_id})


def downgrade() -> None:
    with op.batch_alter_table("noise_samples") as batch:
        batch.alter_column("score", new_column_name="cosine", existing_type=sa.Float())
    with op.batch_alter_table("samples") as batch:
        batch.alter_column("input_sha", new_column_name="text_sha", existing_type=sa.String(16))
        batch.alter_column("score", new_column_name="cosine", existing_type=sa.Float())
        batch.drop_column("agreed")
        for name in _EMBED:
            batch.add_column(sa.Column(name, sa.Integer() if name.startswith("dim") else sa.Float()))
    for name in _EMBED:
        op.execute(f"UPDATE samples SET {name} = (SELECT e.{name} FROM embed_samples e "
                   "WHERE e.sweep_id = samples.sweep_id AND e.idx = samples.idx)")
    op.drop_table("embed_samples")
