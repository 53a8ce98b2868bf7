"""The exceptions rnnkit raises of its own, on the ground floor so that every package can use them.

``FileFormatError`` is what every loader raises for a file it will not read (``rnnkit.io`` and
``rnnkit.data`` both do); it is a ``ValueError`` so that code catching bad input catches it too.
"""

__all__ = ["FileFormatError"]


class FileFormatError(ValueError):
    """A file is missing, truncated, corrupted, of another format, or does not fit the model."""
