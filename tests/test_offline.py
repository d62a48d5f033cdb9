"""The test suite runs offline."""

from __future__ import annotations

import pytest


def test_the_suite_cannot_reach_the_network():
    """The autouse guard of tests/conftest.py: a connection beyond loopback fails the test."""
    import socket

    s = socket.socket()
    try:
        with pytest.raises(AssertionError, match="reach the network"):
            s.connect(("192.0.2.1", 80))  # TEST-NET-1: never routed
    finally:
        s.close()
