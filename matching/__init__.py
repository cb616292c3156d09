"""Pure Python: eligibility, scoring, explanations, slot computation.

Plain dataclasses in, plain dataclasses out. Nothing here imports Flask or the models, so it
can be tested and benchmarked on its own (DESIGN.md §3).
"""
