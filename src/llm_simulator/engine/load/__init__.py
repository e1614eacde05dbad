"""The load-aware serving engine: continuous batching, KV cache and queueing (SPEC LAT-4).

``replica`` holds the step rule, ``stepmodel`` the step-time formula, ``physics`` derives
its coefficients from a model and GPU, ``presets`` the calibrated deployments, ``virtual``
runs it on a virtual clock and ``live`` paces real HTTP streams from it.
"""
