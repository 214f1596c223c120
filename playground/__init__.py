"""LLM Fine-Tuning Playground: the library behind the app and the `python -m playground` CLI.

This package never imports gradio (a test enforces it): everything the UI can do, the library
and the CLI can do headless.
"""

__version__ = "0.1.0"
