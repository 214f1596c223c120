"""The one exception type for input a person can fix.

Its message is shown as-is in the UI and printed as one line by the CLI, so it says what is
wrong and how to fix it, in plain words.
"""


class PlaygroundError(ValueError):
    """Bad input or an unavailable resource, explained for the user."""
