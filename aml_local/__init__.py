"""A local stand-in for the Azure ML control plane, for end-to-end tests without a subscription.

Run it with `python -m aml_local`; point `MLClient` at it with `connect.py`.
"""
