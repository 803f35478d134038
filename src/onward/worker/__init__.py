"""
Running step attempts: the runner turns one try of an action into an ActionResult.
"""

from __future__ import annotations
