"""Event contracts of ansinh: the envelope, one pydantic model per message, the topic catalogue.

Wire types live here and only here; services translate them into their own domain types at the edge.
"""
