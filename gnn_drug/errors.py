"""Errors a user can act on: each names the file, row or value at fault; the CLI prints them as one line."""


class GnnDrugError(Exception):
    """Base class for every error the command line reports as a one-line message."""


class DataError(GnnDrugError):
    """Input data is missing, unreadable or malformed (names the file and, where known, the row)."""


class DatasetUnavailableError(DataError):
    """A public dataset is neither in the mirror, the cache, nor downloadable."""


class ConfigError(GnnDrugError):
    """A configuration file or override is invalid."""


class ModelFileError(GnnDrugError):
    """A saved model is missing, tampered with, or made by an incompatible version."""


class RegistryError(GnnDrugError):
    """A registry, model name, version or alias does not exist or cannot be used."""
