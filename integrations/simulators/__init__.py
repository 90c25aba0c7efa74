"""Protocol-faithful simulators of the external services, served by one process.

Start them with ``SimulatorServer`` (``integrations.simulators.server``) or
``manage.py simulate``; see docs/simulators.md. No Django imports in here.
"""
