"""`duplicate_status`: where a customer stands in duplicate review (merges app), in SQL.

A customer has one status, the first that applies (docs/segment-language.md):
MERGED if merged away into another profile; else, by the candidates (merges.DuplicateCandidate,
`members` = customer ids) the customer belongs to: MERGE_REQUESTED, OPEN, MERGED, DISMISSED;
else NONE. The evaluator reads the same order from `DUPLICATE_STATUS_ORDER`.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import BooleanField, Expression, F, Q

# Candidate status (merges.DuplicateCandidate.Status) -> the customer's duplicate_status, in
# priority order: what needs a reviewer's attention comes first.
DUPLICATE_STATUS_ORDER: tuple[tuple[str, str], ...] = (
    ("merge_requested", "MERGE_REQUESTED"),
    ("open", "OPEN"),
    ("merged", "MERGED"),
    ("dismissed", "DISMISSED"),
)


class InDuplicateCandidates(Expression):
    """True when the customer's id is a member of a duplicate candidate whose status is one of
    `statuses`. One uncorrelated subquery (a hashed semi-join), never NULL."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, statuses: Iterable[str]):
        super().__init__()
        self.column = F("pk")
        self.statuses = list(statuses)

    def get_source_expressions(self):
        return [self.column]

    def set_source_expressions(self, expressions):
        (self.column,) = expressions

    def _sql(self, compiler, element_sql: str):
        from merges.models import DuplicateCandidate

        column, params = compiler.compile(self.column)
        table = compiler.connection.ops.quote_name(DuplicateCandidate._meta.db_table)
        marks = ", ".join(["%s"] * len(self.statuses))
        # Only the compiled column, the table name and fixed SQL are interpolated.
        elements = element_sql.format(table=table)
        sql = f"{column} IN (SELECT {elements} WHERE c.status IN ({marks}))"
        return sql, (*params, *self.statuses)

    def as_postgresql(self, compiler, connection):
        return self._sql(
            compiler,
            "(e.v)::bigint FROM {table} c CROSS JOIN LATERAL"
            " jsonb_array_elements_text(c.members) AS e(v)",
        )

    def as_sqlite(self, compiler, connection):
        return self._sql(
            compiler, "CAST(j.value AS INTEGER) FROM {table} c, json_each(c.members) j"
        )

    def as_sql(self, compiler, connection):  # pragma: no cover - other databases
        raise NotImplementedError(f"segments do not support {connection.vendor}")


def duplicate_status_q(status: str) -> Q:
    """Customers whose duplicate_status is `status`."""
    merged_away = Q(merged_into__isnull=False)
    before: list[str] = []
    for candidate_status, name in DUPLICATE_STATUS_ORDER:
        if name == status:
            here = ~merged_away & Q(InDuplicateCandidates([candidate_status]))
            if before:
                here &= ~Q(InDuplicateCandidates(before))
            return (merged_away | here) if name == "MERGED" else here
        before.append(candidate_status)
    # NONE: merged nowhere and in no candidate at all
    return ~merged_away & ~Q(InDuplicateCandidates(before))
