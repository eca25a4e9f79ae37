"""The meeting domain: units, accounts, endpoints, meetings and invitations.

Plain async services over a database session. This package imports neither
``signaling`` nor ``media``; it reports what happened through ``EventPublisher``.
"""
