"""The REST door: FastAPI routers that translate HTTP to service calls and back."""
