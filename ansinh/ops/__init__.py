"""Operator tools: the ``ansinh`` CLI, DLQ administration, topic administration, process control."""
