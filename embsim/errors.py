"""Errors a user can fix.

`InputError` is the one exception type that means "the input is wrong, not
embsim".  The CLI turns it into one line ``error: ...`` on stderr and exit code
2; anything else escaping the CLI is a bug (exit code 1, with a traceback).
Messages name the file, the field, the value and what was expected, so the line
alone tells the user what to change.
"""


class InputError(Exception):
    """Bad user input: a file, field or value that is not what was expected."""


def where(source, field=None):
    """Format the 'file: field' prefix used in every InputError message."""
    parts = [str(p) for p in (source, field) if p not in (None, "")]
    return ": ".join(parts)
