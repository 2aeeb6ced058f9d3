"""Domain errors of the case workflow; the API maps each to one HTTP status."""
from __future__ import annotations


class CaseError(Exception):
    """Base of the case errors; the message is meant for the caller."""


class CaseNotFound(CaseError):
    """No such case, or none the caller may see (404)."""


class ActionNotAllowed(CaseError):
    """The action cannot be taken from the case's current status (409)."""


class ActionForbidden(CaseError):
    """The caller may not take this action on this case (403)."""
