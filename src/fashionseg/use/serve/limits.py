"""The server's defaults, in one torch-free place that the command line and the app share."""

MAX_BYTES = 10_000_000  # uploads above get 413
MAX_PIXELS = 40_000_000  # photos above get 422
MAX_BATCH = 8  # requests batched into one forward pass


# Names that always mean this machine: a page cannot rebind them, so a server bound to the
# loopback answers them all.
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def allowed_hosts(bound: str, given: list[str] | None) -> list[str]:
    """The ``Host`` headers ``serve`` answers: those given (``--allowed-host``), else the
    host it binds (with the loopback names when that is a loopback address, and any when it
    binds every interface, where ``--allowed-host`` should name the server's public name)."""
    if given:
        return list(given)
    if bound in ("0.0.0.0", "::", ""):
        return ["*"]
    if bound in LOOPBACK:
        return list(LOOPBACK)
    return [bound]
