"""
Storage adapters: SqlStore (SQLite, PostgreSQL) and MemoryStore.
"""
