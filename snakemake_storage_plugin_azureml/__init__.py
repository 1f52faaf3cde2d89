"""Snakemake storage plugin `azureml`: files on Azure ML datastores.

Queries look like `azureml://datastores/<datastore>/paths/<path>`. Only light modules are
imported here: Snakemake imports every installed storage plugin on each run, so the Azure SDK
is loaded on the first real storage operation.
"""

from .provider import StorageProvider
from .settings import StorageProviderSettings
from .storage_object import StorageObject

__all__ = ["StorageObject", "StorageProvider", "StorageProviderSettings"]
