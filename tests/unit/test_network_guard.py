"""The test session refuses every connection that would leave this machine."""

from __future__ import annotations

import socket

import pytest


@pytest.mark.parametrize("address", [("93.184.216.34", 80), ("10.0.0.1", 6379), ("8.8.8.8", 53)])
def test_connections_off_the_machine_are_refused(address: tuple[str, int]) -> None:
    """Public and private-range addresses alike are refused before any packet leaves."""
    with socket.socket() as s, pytest.raises(ConnectionRefusedError, match="only loopback"):
        s.connect(address)


def test_loopback_is_allowed() -> None:
    """127.0.0.1 is reachable (a refused port answers ConnectionRefused from the kernel)."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        with socket.create_connection(srv.getsockname(), timeout=2) as c:
            assert c.getpeername() == srv.getsockname()
