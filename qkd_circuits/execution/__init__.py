"""Running circuits: executors (Aer, IBM) and the grouped / literal exchange mappings."""

from qkd_circuits.execution.aer import AerExecutor
from qkd_circuits.execution.base import Executor, GroupPlan, Outcomes, run_grouped, run_literal

__all__ = ["AerExecutor", "Executor", "GroupPlan", "Outcomes", "run_grouped", "run_literal"]
