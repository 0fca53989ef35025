"""`has_tag`: is a tag among a normalised tag text (customers.normalize.tags_normalize)?

    Customer.all_shops.filter(tags_normalized__has_tag="VIP")

On PostgreSQL it is `string_to_array(column, ',') @> ARRAY['vip']`, answered by the GIN
expression indexes of migration 0009 (a few entries per row; the trigram indexes they replace
stored ~25 per row and made a full sync's order insert about twice as slow). Elsewhere (the
SQLite demo) it is `LIKE '%,vip,%'`. Both find exactly the rows tagged `vip`: tags_normalize
lowercases, drops blank tags and never leaves a comma inside a tag.
"""

from django.db.models import Lookup, TextField
from django.db.models.lookups import Contains

from customers.normalize import tag_pattern


@TextField.register_lookup
class HasTag(Lookup):
    lookup_name = "has_tag"
    prepare_rhs = False

    def _tag(self) -> str:
        return str(self.rhs).strip().lower()

    def as_sql(self, compiler, connection):
        return Contains(self.lhs, tag_pattern(self._tag())).as_sql(compiler, connection)

    def as_postgresql(self, compiler, connection):
        tag = self._tag()
        if not tag:  # ",," is never in a normalised text; the array form would match it
            return "FALSE", []
        lhs, params = compiler.compile(self.lhs)
        # The same expression as the indexes, so the planner can use them.
        return f"string_to_array({lhs}, ',') @> ARRAY[%s]::text[]", [*params, tag]
