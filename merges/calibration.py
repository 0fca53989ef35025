"""Reviewer decisions as labels: a per-shop correction of the unsupervised weights.

The unsupervised Fellegi-Sunter fit (merges.detection.scoring) knows nothing about the mistakes
reviewers see. With labels (dismissed pairs = different people; merged or merge-requested groups
and Shopify merges = one person) each field's weights are scaled by a factor learnt by a ridge
logistic regression on the labelled pairs' partial weights, pulled towards 1 (no change): a few
labels nudge the model, they do not rewrite it. The prior may shift too: the labelled pairs are
the proposed ones, the population where the review threshold decides, so their balance of matches
and non-matches is what the threshold should be calibrated on.

A scale becomes new m values, m' = u * (m / u) ** scale, so the stored model keeps its shape
and both the full scan and the incremental check use it unchanged.
"""

import math
from dataclasses import dataclass

import numpy as np

from merges.detection import scoring
from merges.detection.compare import FIELDS, MISSING

SCALE_BOUNDS = (0.25, 2.0)
SHIFT_BOUND = 8.0  # bits
RIDGE = 2.0
NEWTON_STEPS = 50
LN2 = math.log(2)


@dataclass(frozen=True)
class Quality:
    """Pairwise quality on labelled pairs at one threshold."""

    matches: int
    non_matches: int
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.matches if self.matches else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def line(self) -> str:
        return (
            f"precision {self.precision:.3f}  recall {self.recall:.3f}  F1 {self.f1:.3f}"
            f"  (TP {self.true_positives}, FP {self.false_positives},"
            f" FN {self.false_negatives})"
        )

    def as_dict(self) -> dict:
        return {
            "matches": self.matches,
            "non_matches": self.non_matches,
            "true_positives": self.true_positives,
            "false_positives": self.false_positives,
            "false_negatives": self.false_negatives,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }


def quality(probability: np.ndarray, labels: np.ndarray, threshold: float) -> Quality:
    predicted = probability >= threshold
    return Quality(
        matches=int(labels.sum()),
        non_matches=int((~labels).sum()),
        true_positives=int((predicted & labels).sum()),
        false_positives=int((predicted & ~labels).sum()),
        false_negatives=int((~predicted & labels).sum()),
    )


def refit_parameters(
    weights: np.ndarray, prior_weight: float, labels: np.ndarray
) -> tuple[float, np.ndarray]:
    """(shift of the prior in bits, per-field scales) maximising the labelled pairs'
    ridge-penalised log-likelihood of logit = prior + shift + sum(scale_f * weight_f), in bits.
    Newton directions with a backtracking line search inside the bounds: every accepted step
    improves the objective, so saturated outliers cannot throw it off."""
    x = np.column_stack([np.ones(len(weights)), weights]) * LN2
    offset = prior_weight * LN2
    y = labels.astype(float)
    neutral = np.concatenate([[0.0], np.ones(weights.shape[1])])
    low = np.concatenate([[-SHIFT_BOUND], np.full(weights.shape[1], SCALE_BOUNDS[0])])
    high = np.concatenate([[SHIFT_BOUND], np.full(weights.shape[1], SCALE_BOUNDS[1])])

    def loss(theta: np.ndarray) -> float:
        logit = offset + x @ theta
        # log(1 + e^z) - y z, stable for large |z|
        fit = (np.logaddexp(0.0, logit) - y * logit).sum()
        return float(fit + RIDGE / 2 * ((theta - neutral) ** 2).sum())

    theta = neutral.copy()
    current = loss(theta)
    for _ in range(NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-np.clip(offset + x @ theta, -40, 40)))
        gradient = x.T @ (p - y) + RIDGE * (theta - neutral)
        hessian = (x * (p * (1 - p))[:, None]).T @ x + RIDGE * np.eye(len(theta))
        direction = np.linalg.solve(hessian, gradient)
        step = 1.0
        while step > 1e-4:
            trial = np.clip(theta - step * direction, low, high)
            value = loss(trial)
            if value < current:
                break
            step /= 2
        else:
            break  # no step improves: converged (or held by a bound)
        moved = np.abs(trial - theta).max()
        theta, current = trial, value
        if moved < 1e-6:
            break
    return float(theta[0]), theta[1:]


def refit_model(model: scoring.MatchModel, shift: float, scales: np.ndarray) -> scoring.MatchModel:
    """The model whose level weights are `scales` times the given model's (missing stays 0) and
    whose prior weight is `shift` bits higher."""
    data = model.to_dict()
    m = {}
    for f, name in enumerate(FIELDS):
        old_m = np.maximum(np.asarray(model.m[name], dtype=float), scoring.M_FLOOR)
        u = np.maximum(np.asarray(model.u[name], dtype=float), scoring.U_FLOOR)
        new_m = u * (old_m / u) ** float(scales[f])
        new_m[MISSING] = model.m[name][MISSING]
        m[name] = new_m.tolist()
    data["m"] = m
    odds = 2.0 ** (model.prior_weight + shift)
    data["prior"] = odds / (1 + odds)
    return scoring.MatchModel.from_dict(data)


def folds(count: int, k: int, seed: int = 0) -> list[np.ndarray]:
    order = np.random.default_rng(seed).permutation(count)
    return [order[i::k] for i in range(k)]
