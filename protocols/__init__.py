"""The gridwatch wire contract (../shared/CONTRACT.md sections 1-2) as code.

This package imports nothing else of the project: edge, cloud and simulator
all build and parse messages and topics through it.
"""
