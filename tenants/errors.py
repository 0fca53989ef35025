"""Domain errors that services raise; the API turns each into its HTTP status and error body.

Raise a subclass (or `DomainError(message, code=...)`) from a service when a request is
well-formed but not allowed in the current state. Invalid input stays a Django ValidationError.
"""


class DomainError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class Conflict(DomainError):
    """The change contradicts the current state (last owner, already uninstalled...)."""

    status = 409
    code = "conflict"


class NotPermitted(DomainError):
    """The caller is known and in scope but may not do this."""

    status = 403
    code = "permission_denied"
