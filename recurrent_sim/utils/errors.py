"""Errors a user can cause; command lines report them in one line."""


class UserError(Exception):
    """Bad input from the user (path, size, id ...): reported as one line, exit 2."""
