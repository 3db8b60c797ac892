"""Kapu: an async stand-in for the KR machine Office Gateway (gépi Hivatali Kapu)."""

__version__ = "0.1.0"
