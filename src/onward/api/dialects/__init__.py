"""
Vendor API dialects: each translates one vendor's words and shapes to Onward's services.
"""
