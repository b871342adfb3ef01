"""ticker: a real-time breaking-news ticker service."""

__version__ = "0.1.0"
__all__ = ["__version__"]
