"""Pure-Python agronomy core of the fertilizer plugin (no Django imports).

- :mod:`.methods` - soil-test formulated fertilization methods (NY/T 1118)
- :mod:`.params` - :class:`ParameterSet` and default parameters
- :mod:`.recommend` - :func:`recommend` chooses a method for a field
- :mod:`.blend` - least-cost whole-bag plans (MILP, HiGHS)
- :mod:`.calc` - JSON calculator used by ``manage.py fertilizer calc``
"""

from .blend import BlendPlan, Catalogue, NoFeasiblePlan, Product, SplitPlan, plan, plan_many, plan_split
from .methods import AgronomyError
from .nutrients import MU_PER_HA, NPK, NUTRIENTS, Reason
from .params import DEFAULT_PARAMETER_SETS, JILIN_MAIZE_ZONES, ParameterSet, get_parameter_set
from .recommend import FieldInfo, Recommendation, SoilTest, recommend

__all__ = [
    "DEFAULT_PARAMETER_SETS",
    "JILIN_MAIZE_ZONES",
    "MU_PER_HA",
    "NPK",
    "NUTRIENTS",
    "AgronomyError",
    "BlendPlan",
    "Catalogue",
    "FieldInfo",
    "NoFeasiblePlan",
    "ParameterSet",
    "Product",
    "Reason",
    "Recommendation",
    "SoilTest",
    "SplitPlan",
    "get_parameter_set",
    "plan",
    "plan_many",
    "plan_split",
    "recommend",
]
