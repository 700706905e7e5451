"""Memory freed by a large request goes back to the operating system (tabserve.serving.memory)."""

import subprocess
import sys

from starlette.background import BackgroundTasks

from tabserve.serving.memory import LARGE_ROWS, release_free_memory, trim_after_large

# Frees ~200 MB of heap blocks below a block still in use, so glibc cannot give them back by itself.
FREED_BELOW_A_LIVE_BLOCK = """
import psutil
from tabserve.serving.memory import release_free_memory
blocks = [bytearray(2000) for _ in range(100_000)]
pinned = bytearray(2000)
del blocks
before = psutil.Process().memory_info().rss
release_free_memory()
after = psutil.Process().memory_info().rss
print((before - after) // 2**20)
"""


def test_release_free_memory_returns_freed_heap_pages():
    released = subprocess.run(
        [sys.executable, "-c", FREED_BELOW_A_LIVE_BLOCK], capture_output=True, text=True, check=True
    )
    assert int(released.stdout) >= 100, released.stdout


def test_only_large_requests_pay_for_a_trim():
    small, large = BackgroundTasks(), BackgroundTasks()
    trim_after_large(small, LARGE_ROWS - 1)
    trim_after_large(large, LARGE_ROWS)
    assert not small.tasks
    assert [task.func for task in large.tasks] == [release_free_memory]
