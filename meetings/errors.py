"""Domain errors. The transport layer maps ``code`` to an HTTP status or an error ack."""


class DomainError(Exception):
    """Base of all errors the domain raises on purpose."""

    code = "domain_error"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(DomainError):
    """The named object does not exist (or the caller may not know it does)."""

    code = "not_found"


class Forbidden(DomainError):
    """The caller is known but not allowed to do this."""

    code = "forbidden"


class Unauthenticated(DomainError):
    """No valid credentials."""

    code = "unauthenticated"


class Conflict(DomainError):
    """The request contradicts the current state (duplicate, wrong life-cycle step)."""

    code = "conflict"


class InvalidInput(DomainError):
    """Well-formed but semantically wrong input (unknown parent unit, bad role...)."""

    code = "invalid_input"


class RateLimited(DomainError):
    """Too many attempts; retry later."""

    code = "rate_limited"
