"""
Executors: where queued attempts run (in this process, or on Celery workers).
"""
