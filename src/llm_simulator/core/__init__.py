"""Provider-neutral vocabulary: requests, stream events, usage and errors. No I/O."""
