"""The vendors' public wire formats, client side: shared by the SDK, the load generator and the CLI.

Only what the three clients must agree on lives here: the provider names and their default
models, how each provider authenticates, Gemini's URL shape, the text of a Gemini candidate,
the output-token count of a Gemini usage block, and each provider's rule for the end of a
stream. It knows nothing of the simulator's insides (an import contract keeps it so): the
clients work against any OpenAI-, Anthropic- or Gemini-compatible server.
"""
