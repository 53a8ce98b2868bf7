"""The exception every rnnkit loader raises for a file it will not read."""


class FileFormatError(ValueError):
    """A file is missing, truncated, corrupted, of another format, or does not fit the model."""
