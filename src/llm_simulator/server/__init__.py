"""The ASGI server: routing, request/response plumbing, health and admin routes, lifespan."""
