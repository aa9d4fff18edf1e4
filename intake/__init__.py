"""Kvalitetsutmärkelsen intake bot."""

__version__ = "0.1.0"
