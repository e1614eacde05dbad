"""The router: routing rules and decisions applied to inference requests."""
