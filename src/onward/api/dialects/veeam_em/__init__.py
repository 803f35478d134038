"""
The Veeam Backup Enterprise Manager dialect: logon sessions, jobs and tasks.

Vendor words live only here; see docs/dialects.md for the mapping of EM
concepts onto Onward's and what is not supported.
"""

from onward.api.dialects.veeam_em.routes import router

__all__ = ["router"]
