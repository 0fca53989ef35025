"""fit_matcher: reviewer decisions on a generated store (labels taken from the generator's truth)
refit the weights; quality before and after is printed; later full-sync refits keep the labels."""

import io

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from merges.calibration import SCALE_BOUNDS
from merges.detection import blocking, scoring
from merges.detection.compare import FIELDS, RecordTable
from merges.models import DismissedPair, DuplicateCandidate, MatcherFit
from merges.services import duplicates_find, fingerprint, matcher_model
from merges.tests.stores import load_generated
from tenants.tests.factories import agency_factory, shop_factory

pytestmark = pytest.mark.django_db


def review_like_a_person(shop, ids, truth, *, non_matches: int = 40) -> tuple[int, int]:
    """Label the store as reviewers would: pure candidates merged; the blocked pairs of different
    people that the model likes most dismissed (hard negatives)."""
    person = {ids[m]: i for i, cluster in enumerate(truth.clusters) for m in cluster}
    merged = 0
    for candidate in DuplicateCandidate.all_shops.filter(shop=shop, status="open"):
        if len({person.get(m, -m) for m in candidate.members}) == 1:
            candidate.status = DuplicateCandidate.Status.MERGED
            candidate.save(update_fields=["status"])
            merged += 1
    records = blocking.match_fields_load(shop_id=shop.id)
    pairs = blocking.candidate_pairs(shop_id=shop.id)
    different = np.array([person.get(a, -a) != person.get(b, -b) for a, b in pairs.tolist()])
    pairs = pairs[different]
    table = RecordTable.build(records)
    scored = scoring.score_pairs(
        matcher_model(shop_id=shop.id),
        table,
        table.positions(pairs[:, 0]),
        table.positions(pairs[:, 1]),
    )
    prints = {r.customer_id: fingerprint(r) for r in records}
    hardest = np.argsort(-scored.probability)[:non_matches]
    DismissedPair.all_shops.bulk_create(
        [
            DismissedPair(
                shop=shop,
                customer_low_id=int(pairs[i, 0]),
                customer_high_id=int(pairs[i, 1]),
                fingerprint_low=prints[int(pairs[i, 0])],
                fingerprint_high=prints[int(pairs[i, 1])],
                reason="different people (checked by phone)",
            )
            for i in hardest
        ]
    )
    return merged, len(hardest)


@pytest.fixture
def reviewed():
    shop = shop_factory(agency=agency_factory(), country_code="DE")
    ids, truth = load_generated(shop, count=1200, seed=31, duplicate_rate=0.15)
    duplicates_find(shop_id=shop.id, full=True)
    merged, dismissed = review_like_a_person(shop, ids, truth)
    return shop, merged, dismissed


def test_fit_matcher_refits_with_labels_and_reports_quality(reviewed):
    shop, merged, dismissed = reviewed
    out = io.StringIO()
    call_command("fit_matcher", shop.domain, stdout=out)
    text = out.getvalue()
    assert "labelled matches" in text and f"{dismissed} labelled non-matches" in text
    for row in ("model in use until now", "unsupervised fit", "refit, held out (5-fold)"):
        assert row in text
    assert "precision" in text and "recall" in text and "F1" in text

    fit = MatcherFit.all_shops.get(shop=shop)
    summary = fit.calibration
    assert summary["labels"]["non_matches"] == dismissed
    assert summary["labels"]["matches"] >= merged  # a group of three is three pairs
    for name in ("unsupervised", "refit", "held_out"):
        q = summary[name]
        assert q["true_positives"] + q["false_negatives"] == summary["labels"]["matches"]
        assert q["false_positives"] <= summary["labels"]["non_matches"]
    if summary["stored_refit"]:
        assert summary["held_out"]["f1"] >= summary["unsupervised"]["f1"]
        assert set(summary["scales"]) == set(FIELDS)
        assert all(SCALE_BOUNDS[0] <= v <= SCALE_BOUNDS[1] for v in summary["scales"].values())
        assert "stored the refit" in text
    assert AuditEvent.objects.filter(event="duplicates.matcher_refit", shop_id=shop.id).exists()

    # The next full sync refits from scratch and applies the labels again.
    duplicates_find(shop_id=shop.id, full=True, refit=True)
    assert MatcherFit.all_shops.get(shop=shop).calibration["labels"] == summary["labels"]


def test_fit_matcher_refuses_unknown_shops_and_too_few_labels():
    with pytest.raises(CommandError, match="no shop"):
        call_command("fit_matcher", "nope.myshopify.com")
    shop = shop_factory(agency=agency_factory(), country_code="DE")
    load_generated(shop, count=300, seed=32)
    duplicates_find(shop_id=shop.id, full=True)
    before = MatcherFit.all_shops.get(shop=shop).fitted_at
    with pytest.raises(CommandError, match="at least 5 of each"):
        call_command("fit_matcher", str(shop.pk))
    assert MatcherFit.all_shops.get(shop=shop).fitted_at == before


def test_held_out_pairs_are_scored_among_all_labelled_pairs(reviewed):
    """A pair's probability can depend on the pairs scored with it (joint comparisons: a third
    profile matched through a person's other profile). Held out, each fold's pairs are scored by
    the model refitted on the other folds, among all the labelled pairs, as the reported
    quality before and after and the scan score them; not alone."""
    from merges import calibration
    from merges.fitting import HELD_OUT_FOLDS, _refit, held_out_probabilities, labelled_pairs_load

    shop, _, _ = reviewed
    model = matcher_model(shop_id=shop.id)
    data = labelled_pairs_load(shop_id=shop.id, product_share=model.product_share)
    held_out = held_out_probabilities(model, data)
    everything = np.arange(len(data.labels))
    context_decides = 0
    for test in calibration.folds(len(data.labels), HELD_OUT_FOLDS):
        refit, _, _ = _refit(model, data, np.setdiff1d(everything, test))
        among_all = scoring.score_pairs(refit, data.table, data.left, data.right).probability
        alone = scoring.score_pairs(refit, data.table, data.left[test], data.right[test])
        assert held_out[test] == pytest.approx(among_all[test])
        context_decides += int((np.abs(alone.probability - among_all[test]) > 1e-9).sum())
    assert context_decides > 0  # the store has such pairs: scoring a fold alone would differ
