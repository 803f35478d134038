"""
The Huawei Cloud SecMaster dialect: playbook instances are Onward runs, under ``/v1``.
"""

from onward.api.dialects.secmaster.routes import router

__all__ = ["router"]
