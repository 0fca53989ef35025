"""The invitation accept page: the invitee joins the agency as themselves, never someone else.

Logged in as a user whose email the invitation names: one click accepts. Logged out: log in
first, or create an account for the invited email here. The page says the same thing whether
or not an account uses that email.
"""

from django.contrib.auth import login
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from tenants.errors import DomainError
from tenants.services import (
    invitation_accept,
    invitation_is_for,
    invitation_pending,
    invitation_sign_up,
)


def _invalid(request: HttpRequest, message: str, status: int) -> HttpResponse:
    return render(request, "tenants/invitation_invalid.html", {"message": message}, status=status)


@require_http_methods(["GET", "POST"])
def invitation_accept_page(request: HttpRequest, token: str) -> HttpResponse:
    invitation = invitation_pending(token)
    if invitation is None:
        return _invalid(request, "This invitation is unknown, already used or expired.", 404)
    user = request.user
    if user.is_authenticated and not invitation_is_for(invitation, user):
        return _invalid(
            request,
            "This invitation was sent to another email address; log in as its recipient.",
            403,
        )
    form = UserCreationForm(request.POST or None) if not user.is_authenticated else None
    if request.method == "POST":
        if form is None:
            if request.POST.get("action") != "accept":
                return redirect_to_login(request.get_full_path())
            try:
                invitation_accept(token=token, user=user)
            except DomainError as error:
                return _invalid(request, error.message, error.status)
            return HttpResponseRedirect(reverse("home"))
        if form.is_valid():
            try:
                membership = invitation_sign_up(
                    token=token,
                    username=form.cleaned_data["username"],
                    password=form.cleaned_data["password1"],
                )
            except DomainError as error:
                return _invalid(request, error.message, error.status)
            login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
            return HttpResponseRedirect(reverse("home"))
    context = {"invitation": invitation, "form": form, "next": request.get_full_path()}
    status = 400 if form is not None and form.errors else 200
    return render(request, "tenants/invitation_accept.html", context, status=status)
