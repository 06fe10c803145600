"""suppliers: an OpenTelemetry-native inventory API."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("suppliers")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
