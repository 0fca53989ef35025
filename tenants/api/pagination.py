"""Cursor pagination for every list: stable, index-friendly, no counts, no deep offsets."""

from rest_framework import pagination
from rest_framework.exceptions import ValidationError

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class CursorPagination(pagination.CursorPagination):
    """Orders by the view's `cursor_ordering` (unique, immutable fields; default `pk`)."""

    ordering = ("pk",)
    page_size = DEFAULT_PAGE_SIZE
    page_size_query_param = "page_size"
    page_size_query_description = (
        f"Results per page, 1 to {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE})."
    )
    max_page_size = MAX_PAGE_SIZE

    def get_ordering(self, request, queryset, view):
        ordering = getattr(view, "cursor_ordering", None) or self.ordering
        return (ordering,) if isinstance(ordering, str) else tuple(ordering)

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if not 1 <= size <= self.max_page_size:
            raise ValidationError(
                {
                    self.page_size_query_param: [
                        f"Must be a whole number from 1 to {self.max_page_size}."
                    ]
                }
            )
        return size

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except Exception as exc:  # DRF answers 404 for a bad cursor; it is bad input
            raise ValidationError(
                {self.cursor_query_param: ["Invalid cursor; use the next/previous links as given."]}
            ) from exc
