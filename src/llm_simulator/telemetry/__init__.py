"""Telemetry: counters and timing statistics (``/admin/stats``); metrics and traces later."""
