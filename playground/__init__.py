"""LLM Fine-Tuning Playground: the library behind the app and the `python -m playground` CLI.

This package never imports gradio (a test enforces it): everything the UI can do, the library
and the CLI can do headless.
"""

__version__ = "0.1.0"

import logging as _logging

# bitsandbytes warns at import that an optional CPU kernel package ("kernels") is missing; it is
# harmless (see ../shared/docs/environment.md) and installing that package is not wanted.
_logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(_logging.ERROR)
