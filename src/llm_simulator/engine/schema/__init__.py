"""Seeded JSON-Schema instance generation (tool arguments, structured outputs). No I/O.

``check_schema`` tells whether a schema is valid and within what the generator honours;
``generate`` draws an instance from a ``random.Random``. Both accept plain JSON Schema
(2020-12, with draft-07 spellings) and the OpenAPI/Gemini dialect (``normalize``).
"""

from llm_simulator.engine.schema.api import check_schema, generate
from llm_simulator.engine.schema.budget import OffLoopNeeded, request_budget
from llm_simulator.engine.schema.errors import SchemaError
from llm_simulator.engine.schema.normalize import normalize

__all__ = ["OffLoopNeeded", "SchemaError", "check_schema", "generate", "normalize", "request_budget"]
