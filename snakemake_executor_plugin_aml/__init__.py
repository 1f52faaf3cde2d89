"""Snakemake executor plugin `aml` (`--executor aml`): the implementation lives in aml_bridge."""

from aml_bridge.executor.executor import Executor
from aml_bridge.model.settings import ExecutorSettings, common_settings

__all__ = ["Executor", "ExecutorSettings", "common_settings"]
