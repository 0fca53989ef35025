"""Drive the real OAuth install over HTTP, as a person's browser would (demo and tests only).

Logs in to the running site, follows /shopify/install/ to the shop's authorize page, approves
there, and follows the redirect back to our callback, keeping cookies like a browser.
"""

import html
import http.cookiejar
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlencode, urljoin


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@dataclass(frozen=True)
class Answer:
    status: int
    location: str
    text: str


class BrowserSession:
    """Cookies kept, redirects returned (not followed) so each hop can be checked."""

    def __init__(self, *, timeout: float = 30) -> None:
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect()
        )
        self.timeout = timeout

    def request(self, url: str, *, form: dict | None = None, referer: str = "") -> Answer:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"not an http(s) URL: {url!r}")
        data = urlencode(form).encode() if form is not None else None
        headers = {"Referer": referer or url}
        request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310
        try:
            response = self.opener.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as error:
            response = error
        with response:
            location = response.headers.get("Location") or ""
            return Answer(
                status=response.status,
                location=urljoin(url, location) if location else "",
                text=response.read().decode("utf-8", "replace"),
            )

    def cookie(self, name: str) -> str:
        return next((c.value for c in self.cookies if c.name == name), "")


def site_login(session: BrowserSession, *, app_url: str, username: str, password: str) -> None:
    login_url = f"{app_url}/accounts/login/"
    session.request(login_url)
    answer = session.request(
        login_url,
        form={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": session.cookie("csrftoken"),
        },
    )
    if answer.status != 302:
        raise RuntimeError(f"login as {username} failed (HTTP {answer.status})")


_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
_FORM_ACTION = re.compile(r'<form method="post" action="([^"]+)"')


def shop_install_over_http(
    session: BrowserSession, *, app_url: str, shop_domain: str, agency_id: int
) -> Answer:
    """Run install -> authorize (approving if asked) -> callback; returns the callback's answer.

    A 302 back to the home page means installed; otherwise the answer is the refusal page.
    """
    query = urlencode({"shop": shop_domain, "agency": agency_id})
    start = session.request(f"{app_url}/shopify/install/?{query}")
    if start.status != 302:
        return start
    consent = session.request(start.location)
    if consent.status == 200 and (action := _FORM_ACTION.search(consent.text)):
        # The store shows its approve page: press "Install app".
        form = {name: _unescape(value) for name, value in _HIDDEN.findall(consent.text)}
        consent = session.request(
            urljoin(start.location, _unescape(action.group(1))),
            form={**form, "decision": "approve"},
        )
    if consent.status != 302:
        raise RuntimeError(f"the store's authorize page answered HTTP {consent.status}")
    return session.request(consent.location)


def _unescape(value: str) -> str:
    return html.unescape(value)


_ERROR = re.compile(r'id="install-error"[^>]*>(.*?)</p>', re.S)


def refusal_message(answer: Answer) -> str:
    """The message of our refusal page, or the start of whatever else answered."""
    found = _ERROR.search(answer.text)
    return html.unescape(found.group(1)) if found else answer.text[:300]
