"""The reviewer's duplicate queue, server-rendered: list, detail with the waterfall, dismissal.
Session login; the role map decides who may dismiss; a candidate of another agency is a 404."""

from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from merges import selectors
from merges.models import DuplicateCandidate
from merges.services import DISMISS_REASON_MAX, duplicate_dismiss
from tenants.actors import Actor
from tenants.errors import DomainError
from tenants.models import Agency
from tenants.roles import Permission, role_has
from tenants.selectors import agencies_of_user, shops_visible_to


@dataclass(frozen=True)
class ReviewerContext:
    agency: Agency
    role: str
    shop_ids: list[int]

    @property
    def may_dismiss(self) -> bool:
        return role_has(self.role, Permission.REQUEST_MERGES)


def _reviewer(request: HttpRequest) -> ReviewerContext:
    """The agency named by ?agency=<slug> among the user's, else their first one; 404 for none."""
    memberships = list(agencies_of_user(user=request.user))
    wanted = request.GET.get("agency") or request.POST.get("agency")
    chosen = next((m for m in memberships if m.agency.slug == wanted), None) if wanted else None
    chosen = chosen or (memberships[0] if memberships and not wanted else None)
    if chosen is None:
        raise Http404("No such agency.")
    return ReviewerContext(chosen.agency, chosen.role, shops_visible_to(agency=chosen.agency))


class DismissForm(forms.Form):
    reason = forms.CharField(
        max_length=DISMISS_REASON_MAX,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="Why these are different people (kept with the decision).",
    )


@login_required
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    reviewer = _reviewer(request)
    tier = request.GET.get("tier", "")
    if tier not in ("", *DuplicateCandidate.Tier.values):
        tier = ""
    candidates = list(selectors.candidate_queue(shop_ids=reviewer.shop_ids, tier=tier))
    names = selectors.member_names(candidates=candidates)
    rows = [(c, [names.get(m, f"#{m}") for m in c.members]) for c in candidates]
    context = {"reviewer": reviewer, "rows": rows, "tier": tier, "tiers": DuplicateCandidate.Tier}
    return render(request, "merges/queue.html", context)


def _detail(request, reviewer: ReviewerContext, candidate, form, status: int = 200):
    context = {
        "reviewer": reviewer,
        "candidate": candidate,
        "profiles": selectors.candidate_member_profiles(candidate=candidate),
        "edges": (candidate.explanation or {}).get("edges", []),
        "form": form,
    }
    return render(request, "merges/candidate.html", context, status=status)


def _candidate(reviewer: ReviewerContext, candidate_id: int) -> DuplicateCandidate:
    found = selectors.candidate_of_shops(shop_ids=reviewer.shop_ids, candidate_id=candidate_id)
    if found is None:
        raise Http404("No such candidate.")
    return found


@login_required
@require_GET
def candidate_detail(request: HttpRequest, candidate_id: int) -> HttpResponse:
    reviewer = _reviewer(request)
    return _detail(request, reviewer, _candidate(reviewer, candidate_id), DismissForm())


@login_required
@require_POST
def candidate_dismiss(request: HttpRequest, candidate_id: int) -> HttpResponse:
    reviewer = _reviewer(request)
    candidate = _candidate(reviewer, candidate_id)
    if not reviewer.may_dismiss:
        return HttpResponseForbidden("Your role may not dismiss duplicates.")
    form = DismissForm(request.POST)
    if not form.is_valid():
        return _detail(request, reviewer, candidate, form, status=400)
    try:
        duplicate_dismiss(
            candidate=candidate,
            reason=form.cleaned_data["reason"],
            actor=Actor(user=request.user),
        )
    except DomainError as refused:
        form.add_error(None, refused.message)
        return _detail(request, reviewer, candidate, form, status=refused.status)
    messages.success(request, f"Candidate {candidate.pk} dismissed; its pairs are remembered.")
    return redirect(f"/duplicates/?agency={reviewer.agency.slug}")
