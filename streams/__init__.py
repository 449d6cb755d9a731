"""Pulse's Faust wiring: settings, topics, event contract, agents, HTTP views and the CLI.

Importing this package is cheap: the Faust app is only built by :func:`streams.app.create_app`.
"""
