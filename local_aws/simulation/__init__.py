"""A deterministic simulation of CloudFormation, Lambda and AWS around the provider's real handler.

The handler runs in this process against the Connect emulator (moto), its responses go to the local
stand-in for CloudFormation's response URLs, and every thread involved runs one at a time on a virtual
clock (scheduler.py), so that small scenarios (scenarios.py) can be run under every interleaving of their
AWS calls, CloudFormation's cancellations and Lambda's deliveries up to a bound, or along seeded random
walks, and checked against the invariants of docs/reliability.md's "Simulation" section (explore.py).

``python -m local_aws.simulation`` (``make simulate``) explores every scenario and prints what it found; a
failing schedule prints as a ``Schedule(...)`` that ``Simulation.run`` replays exactly.
"""
