"""
Use cases: load, decide, save state and effects in one transaction.
"""
