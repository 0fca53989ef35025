"""Services of the shop's matching model: the unsupervised fit, refitted with reviewer labels
(merges.calibration), stored in MatcherFit and read by the full scan and the incremental check."""

from dataclasses import dataclass, field

import numpy as np
from django.db import transaction
from django.utils import timezone

from audit.services import audit_event_record
from merges import calibration, selectors
from merges.calibration import Quality
from merges.detection import blocking, groups, scoring
from merges.detection.compare import FIELDS, RecordTable
from merges.detection.normalize import MatchFields, match_fields
from merges.models import MatcherFit
from tenants.actors import SYSTEM_ACTOR, Actor
from tenants.errors import DomainError
from tenants.models import Shop

# Fewer labels than this of either kind say too little to move the weights.
MIN_LABELS_PER_KIND = 5
HELD_OUT_FOLDS = 5


@dataclass
class LabelledPairs:
    table: RecordTable
    left: np.ndarray
    right: np.ndarray
    labels: np.ndarray  # True = one person

    @property
    def matches(self) -> int:
        return int(self.labels.sum())

    @property
    def non_matches(self) -> int:
        return int((~self.labels).sum())

    @property
    def enough(self) -> bool:
        return min(self.matches, self.non_matches) >= MIN_LABELS_PER_KIND


@dataclass
class RefitReport:
    matches: int
    non_matches: int
    threshold: float
    unsupervised: Quality
    refit: Quality  # on the pairs it was fitted on
    held_out: Quality | None  # each pair scored by a refit that never saw it
    previous: Quality | None  # the model the shop used until now
    scales: dict[str, float] = field(default_factory=dict)
    prior_shift: float = 0.0  # bits
    stored: bool = True


# shop id -> (changed_at, model): the incremental check runs per webhook, and the stored model
# (term frequencies of every name held twice) is megabytes of JSON in a large store.
_MODELS: dict[int, tuple[object, scoring.MatchModel]] = {}


_UNREAD = object()


def matcher_model(*, shop_id: int, changed_at: object = _UNREAD) -> scoring.MatchModel | None:
    """The shop's stored model, cached per process until its MatcherFit changes. `changed_at`:
    the fit's stamp when the caller has read it already (None: the shop has no fit)."""
    if changed_at is _UNREAD:
        changed_at = (
            MatcherFit.all_shops.filter(shop_id=shop_id)
            .values_list("changed_at", flat=True)
            .first()
        )
    if changed_at is None:
        _MODELS.pop(shop_id, None)
        return None
    cached = _MODELS.get(shop_id)
    if cached is None or cached[0] != changed_at:
        params = MatcherFit.all_shops.filter(shop_id=shop_id).values_list("params", flat=True)[0]
        # Fitted for other comparison levels (an older detector): None, so the caller refits.
        model = (
            scoring.MatchModel.from_dict(params)
            if scoring.MatchModel.fits_current_levels(params)
            else None
        )
        cached = _MODELS[shop_id] = (changed_at, model)
    return cached[1]


def _records(shop_id: int, customer_ids) -> list[MatchFields]:
    """MatchFields of these customers whether active or not (merged-away profiles are labels)."""
    region = Shop.objects.filter(pk=shop_id).values_list("country_code", flat=True).first() or ""
    contacts = selectors.customer_contacts(shop_id=shop_id, customer_ids=customer_ids)
    return [
        match_fields(customer_id=pk, default_region=region, **values)
        for pk, values in sorted(contacts.items())
    ]


def labelled_pairs_load(
    *, shop_id: int, product_share: dict[int, float] | None = None
) -> LabelledPairs:
    """`product_share`: the model's (how common each product is in the whole shop)."""
    labels = selectors.labelled_pairs(shop_id=shop_id)
    records = _records(shop_id, {m for pair in labels for m in pair})
    known = {r.customer_id for r in records}
    kept = [(pair, label) for pair, label in sorted(labels.items()) if set(pair) <= known]
    products = selectors.purchased_products(shop_id=shop_id, customer_ids=known)
    table = RecordTable.build(records, products, product_share or {})
    pairs = np.array([pair for pair, _ in kept], dtype=np.int64).reshape(-1, 2)
    return LabelledPairs(
        table=table,
        left=table.positions(pairs[:, 0]) if len(pairs) else pairs[:, 0],
        right=table.positions(pairs[:, 1]) if len(pairs) else pairs[:, 1],
        labels=np.array([label for _, label in kept], dtype=bool),
    )


def _quality(model: scoring.MatchModel, data: LabelledPairs, rows=None) -> Quality:
    rows = np.arange(len(data.labels)) if rows is None else rows
    scored = scoring.score_pairs(model, data.table, data.left[rows], data.right[rows])
    return calibration.quality(scored.probability, data.labels[rows], groups.REVIEW_THRESHOLD)


def _refit(model: scoring.MatchModel, data: LabelledPairs, rows) -> tuple:
    scored = scoring.score_pairs(model, data.table, data.left[rows], data.right[rows])
    shift, scales = calibration.refit_parameters(
        scored.weights, model.prior_weight, data.labels[rows]
    )
    return calibration.refit_model(model, shift, scales), shift, scales


def held_out_probabilities(model: scoring.MatchModel, data: LabelledPairs) -> np.ndarray:
    """Each pair's probability under the model refitted on the other folds' labels. Scored
    among all the labelled pairs, as `_quality` and the scan score them: a pair's probability
    can depend on the pairs scored with it (scoring.joint_comparisons); scoring needs no
    labels, so nothing of the held-out fold leaks."""
    probability = np.zeros(len(data.labels))
    everything = np.arange(len(data.labels))
    for test in calibration.folds(len(data.labels), HELD_OUT_FOLDS):
        refit, _, _ = _refit(model, data, np.setdiff1d(everything, test))
        scored = scoring.score_pairs(refit, data.table, data.left, data.right)
        probability[test] = scored.probability[test]
    return probability


def _held_out(model: scoring.MatchModel, data: LabelledPairs) -> Quality:
    probability = held_out_probabilities(model, data)
    return calibration.quality(probability, data.labels, groups.REVIEW_THRESHOLD)


def unsupervised_fit(
    *,
    records: list[MatchFields],
    pairs: np.ndarray,
    products: dict | None = None,
    table: RecordTable | None = None,
    levels: np.ndarray | None = None,
) -> scoring.MatchModel | None:
    """`products`: what each customer ordered (selectors.purchased_products), for the whole shop.
    `table` (of these records, with these products) and `levels` (of these pairs): when the
    caller has them."""
    if not len(pairs):
        return None
    if table is None:
        table = RecordTable.build(records, products)
    left, right = table.positions(pairs[:, 0]), table.positions(pairs[:, 1])
    return scoring.fit(table, left, right, levels=levels)


def matcher_fit(
    *,
    shop_id: int,
    records: list[MatchFields],
    pairs: np.ndarray,
    products: dict | None = None,
    table: RecordTable | None = None,
    levels: np.ndarray | None = None,
) -> tuple[scoring.MatchModel | None, RefitReport | None]:
    """The unsupervised fit, refitted with the shop's labels when there are enough of them and
    the refit does not do worse on pairs it did not see."""
    model = unsupervised_fit(
        records=records, pairs=pairs, products=products, table=table, levels=levels
    )
    if model is None:
        return None, None
    data = labelled_pairs_load(shop_id=shop_id, product_share=model.product_share)
    if not data.enough:
        return model, None
    previous = matcher_model(shop_id=shop_id)
    refit, shift, scales = _refit(model, data, np.arange(len(data.labels)))
    report = RefitReport(
        matches=data.matches,
        non_matches=data.non_matches,
        threshold=groups.REVIEW_THRESHOLD,
        unsupervised=_quality(model, data),
        refit=_quality(refit, data),
        held_out=_held_out(model, data),
        previous=_quality(previous, data) if previous is not None else None,
        scales={name: round(float(s), 3) for name, s in zip(FIELDS, scales, strict=True)},
        prior_shift=round(shift, 3),
    )
    report.stored = report.held_out.f1 >= report.unsupervised.f1
    return (refit if report.stored else model), report


def matcher_save(
    *, shop_id: int, model: scoring.MatchModel, report: RefitReport | None, version: str
) -> MatcherFit:
    calibration_summary = {}
    if report is not None:
        calibration_summary = {
            "scales": report.scales if report.stored else {},
            "prior_shift": report.prior_shift if report.stored else 0.0,
            "labels": {"matches": report.matches, "non_matches": report.non_matches},
            "unsupervised": report.unsupervised.as_dict(),
            "refit": report.refit.as_dict(),
            "held_out": report.held_out.as_dict() if report.held_out else None,
            "stored_refit": report.stored,
        }
    fit, _ = MatcherFit.all_shops.update_or_create(
        shop_id=shop_id,
        defaults={
            "params": model.to_dict(),
            "calibration": calibration_summary,
            "detector_version": version,
            "fitted_at": timezone.now(),
        },
    )
    return fit


def matcher_refit(*, shop_id: int, actor: Actor = SYSTEM_ACTOR) -> RefitReport:
    """`manage.py fit_matcher`: refit the shop's weights with its labels and store them.
    Refuses (nothing stored) a shop with too few labels or no blocked pairs."""
    from merges.services import DETECTOR_VERSION

    shop = Shop.objects.get(pk=shop_id)
    data = labelled_pairs_load(shop_id=shop_id)
    if not data.enough:
        raise DomainError(
            f"{shop.domain} has {data.matches} labelled matches and {data.non_matches} labelled"
            f" non-matches; refitting needs at least {MIN_LABELS_PER_KIND} of each (dismiss or"
            " merge candidates first).",
            code="too_few_labels",
        )
    records = blocking.match_fields_load(shop_id=shop_id)
    pairs = blocking.candidate_pairs(shop_id=shop_id)
    products = selectors.purchased_products(shop_id=shop_id)
    model, report = matcher_fit(shop_id=shop_id, records=records, pairs=pairs, products=products)
    if model is None or report is None:
        raise DomainError(
            f"{shop.domain} has no blocked pairs to fit on; run find_duplicates --full first.",
            code="nothing_to_fit",
        )
    with transaction.atomic():
        matcher_save(shop_id=shop_id, model=model, report=report, version=DETECTOR_VERSION)
        audit_event_record(
            agency_id=shop.agency_id,
            event="duplicates.matcher_refit",
            shop_id=shop_id,
            target_type="shop",
            target_id=shop_id,
            data={
                "matches": report.matches,
                "non_matches": report.non_matches,
                "stored_refit": report.stored,
            },
            **actor.audit_kwargs(),
        )
    return report
