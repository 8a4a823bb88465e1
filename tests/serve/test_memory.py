"""serve/memory.py: freed memory inside glibc's heap goes back to the system on trim()."""
from __future__ import annotations

import threading

from livebg.serve.memory import Trimmer, rss_bytes, trim


def test_trim_gives_back_the_free_pages_of_a_fragmented_heap():
    held = []

    def fill():  # in a thread of its own, as the server's work runs: its own arena
        blocks = [bytearray(100_000) for _ in range(2000)]  # 200 MB of blocks under the mmap threshold
        for block in blocks:
            block[::4096] = b"\1" * len(block[::4096])  # touched: resident
        held.append(blocks[-1])  # the last one stays: the heap cannot shrink from its top by itself
        blocks.clear()

    before = rss_bytes()
    worker = threading.Thread(target=fill)
    worker.start()
    worker.join()
    freed = rss_bytes()
    assert freed - before > 100e6, (before, freed)  # glibc kept the free pages
    trimmer = Trimmer()
    assert trimmer.trim_if_due() is False  # nothing was noted
    trimmer.note()
    trimmer.trim_if_due()
    after = rss_bytes()
    assert freed - after > 100e6, (freed, after)
    assert trim() in (True, False)
