"""champion: champion/challenger experiments for machine-learning models in production."""

__all__ = ["__version__"]

__version__ = "0.1.0"
