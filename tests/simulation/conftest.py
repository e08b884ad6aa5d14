"""The simulation (local_aws/simulation) against the session's emulator and response receiver."""

from __future__ import annotations

import pytest


@pytest.fixture
def simulation(aws_env, receiver):
    from local_aws.connect.control import LocalControl
    from local_aws.simulation.explore import Simulation

    simulation = Simulation(aws_env.endpoint_url, receiver, LocalControl())
    with simulation.session():
        yield simulation
