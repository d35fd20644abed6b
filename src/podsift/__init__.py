from podsift.settings import Settings

__all__ = ["Settings"]
__version__ = "0.1.0"
