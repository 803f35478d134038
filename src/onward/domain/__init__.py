"""
The pure core of Onward: plan definitions, run records and the state machine.
"""
