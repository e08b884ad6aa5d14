"""Amazon Connect phone-number API emulator, as an extension of moto's Connect backend.

Importing this package installs the extension (once per process), so that ``moto.mock_aws()`` and
moto's server both serve ClaimPhoneNumber, UpdatePhoneNumber, DescribePhoneNumber and friends.
See ``control`` for steering it from tests and ``server`` for running it over HTTP.
"""

from .control import HttpControl, LocalControl
from .install import install

install()

__all__ = ["HttpControl", "LocalControl", "install"]
