"""Snakemake executor plugin `aml` (`--executor aml`): the implementation lives in aml_bridge."""

from aml_bridge.executor import Executor
from aml_bridge.settings import ExecutorSettings, common_settings

__all__ = ["Executor", "ExecutorSettings", "common_settings"]
