"""Repositories: all SQL of the gateway, one module per slice. Each repository works on the unit
of work's connection (``storage/uow.py``)."""
