"""Errors a user can fix. The CLI prints them as one line and exits non-zero."""


class SignposeError(Exception):
    """Something is wrong with the input; the message says what and how to fix it."""
