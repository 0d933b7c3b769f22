"""Parameter sweeps: thousands of ``qkd run`` / ``qkd keyrate`` configurations from one
TOML spec, on a local process pool or a Dask cluster, into a resumable Parquet table.

* :mod:`~qkd_circuits.sweep.spec`: the spec (:class:`SweepSpec`, :func:`load_spec`).
* :mod:`~qkd_circuits.sweep.points`: the points, their identities and seeds, parsed
  by ``qkd``'s own parser.
* :mod:`~qkd_circuits.sweep.execute`: :func:`run_sweep` on any
  ``concurrent.futures.Executor``, and the worker's :func:`execute_point`.
* :mod:`~qkd_circuits.sweep.table`: the Parquet parts and table (needs pyarrow).
* :mod:`~qkd_circuits.sweep.plot`: the standard figures (``qkd sweep-plot``).

Importing this package imports neither Dask nor pyarrow.
"""

from qkd_circuits.sweep.execute import (
    RESULT_FIELDS,
    PointFailed,
    SweepOutcome,
    execute_point,
    execute_points,
    plan_sweep,
    run_sweep,
)
from qkd_circuits.sweep.points import Point, expand_points, point_seed
from qkd_circuits.sweep.spec import SweepSpec, load_spec

__all__ = [
    "RESULT_FIELDS",
    "Point",
    "PointFailed",
    "SweepOutcome",
    "SweepSpec",
    "execute_point",
    "execute_points",
    "expand_points",
    "load_spec",
    "plan_sweep",
    "point_seed",
    "run_sweep",
]
