"""Export tasks: records in the catalog, and the runners that execute them."""

from labelport.tasks.inline import InlineRunner
from labelport.tasks.records import TaskInfo, exports_root

__all__ = ["InlineRunner", "TaskInfo", "exports_root"]
