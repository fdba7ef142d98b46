"""Harmony console: the command line and the Textual operations console.

Deliberately empty: ``console.cli`` must import without pulling in Textual.
"""
