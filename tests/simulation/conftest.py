"""The simulation (local_aws/simulation) against the session's emulator and response receiver."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def simulation(emulator, receiver):
    """One simulation session for the module. No reset of the emulator between tests (aws_env's): every run
    seeds its own instances, numbers and stacks under fresh IDs, and points the provider at the emulator
    itself (world.provider_environment), so runs never see each other."""
    from local_aws.connect.control import LocalControl
    from local_aws.simulation.explore import Simulation

    simulation = Simulation(emulator.endpoint_url, receiver, LocalControl())
    with simulation.session():
        yield simulation
