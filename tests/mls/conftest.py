# The sync tests' fixtures (a live sandbox, the engine pointed at it, an in-memory broker),
# registered once for every module of this folder.
from tests.mls.sync_support import memory_broker, own_doorbell, sync_env  # noqa: F401
