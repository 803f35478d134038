"""
Onward's HTTP side: the FastAPI application, built around one runtime by ``create_app``.
"""
