"""The composition root: HTTP API, socket.io signaling, authentication and the CLI."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("phonghop")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+source"
