"""Import, once, what the plugin's inner test sessions use.

``pytester`` runs inner sessions in this process and afterwards removes from ``sys.modules``
every module first imported during the run. A module imported again in the next run is a
new object, while libraries imported out here keep references to the old one: httpx, for
one, caches httpcore's exception classes, and a re-imported httpcore raises classes it does
not recognise. Importing them here keeps them (and saves re-importing the SDKs every run).
"""

from __future__ import annotations

import anthropic  # noqa: F401
import httpcore  # noqa: F401
import httpx  # noqa: F401
import openai  # noqa: F401
import uvicorn  # noqa: F401
from google import genai  # noqa: F401

import llm_simulator.server.app
import llm_simulator.testing.handle  # noqa: F401
