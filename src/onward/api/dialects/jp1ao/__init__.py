"""
The Hitachi JP1/Automatic Operation dialect: tasks are runs, under ``/Automation/v1``.
"""

from onward.api.dialects.jp1ao.routes import router

__all__ = ["router"]
