"""What duplicate detection erases for customers/redact besides blocking keys and candidates."""

from merges.models import MatcherFit


def matcher_fit_names_erase(*, shop_id: int, customer_ids) -> None:
    """The fitted model keeps the share of every first and last name that two or more customers
    hold (term frequencies), so an erased customer's name may be a key of it. Drop them: scores
    lose the rare-name adjustment until the next full scan refits the shop (after a sync)."""
    fit = MatcherFit.all_shops.filter(shop_id=shop_id).first()
    if fit is not None and fit.params.get("tf"):
        fit.params = {**fit.params, "tf": {}}
        fit.save(update_fields=["params", "changed_at"])  # changed_at: cached models reload
