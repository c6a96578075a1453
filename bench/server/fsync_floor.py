"""The disk's own floor under the load bench's write pattern, with no SQLite and no natter.

One thread does what the store writer's COMMIT does to the WAL: write 16 KiB and `fdatasync`,
back to back, over a file that either keeps its blocks (`reuse`: the WAL started over) or grows
(`grow`: a fresh WAL). Beside it another thread does what a checkpoint pass does to the
database: random 4 KiB page writes at BG MB/s (`GROW_DB=1`: one in four appended, as the
database grows), flushed every 250 ms. Prints the flushes' p50 / p99 / max and how many took
over 50 ms: whether the disk alone stalls a commit at the rates the bench drives.

    python3 bench/server/fsync_floor.py [SECS=10] [BG_MB_PER_S=60] [reuse|grow] [DIR=tmp]
"""

import os
import random
import sys
import tempfile
import threading
import time

secs = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
bg_mbs = float(sys.argv[2]) if len(sys.argv) > 2 else 60.0
mode = sys.argv[3] if len(sys.argv) > 3 else "reuse"
if mode not in ("reuse", "grow"):
    sys.exit("fsync_floor: the third argument is reuse or grow")
grow_db = os.environ.get("GROW_DB") == "1"
work = tempfile.mkdtemp(dir=sys.argv[4] if len(sys.argv) > 4 else None)
MIB = 1 << 20
WAL_SPAN = 64 * MIB
DB_SIZE = 512 * MIB

wal = os.open(os.path.join(work, "wal"), os.O_RDWR | os.O_CREAT)
db = os.open(os.path.join(work, "db"), os.O_RDWR | os.O_CREAT)
if mode == "reuse":
    os.pwrite(wal, b"\0" * WAL_SPAN, 0)
    os.fsync(wal)
for i in range(DB_SIZE // MIB):
    os.pwrite(db, b"\1" * MIB, i * MIB)
os.fsync(db)

stop = threading.Event()


def checkpoint_like():
    page = b"\2" * 4096
    end = DB_SIZE
    pages_per_pass = int(bg_mbs * MIB / 4 / 4096)
    while not stop.is_set():
        t0 = time.monotonic()
        for i in range(pages_per_pass):
            if grow_db and i % 4 == 0:
                os.pwrite(db, page, end)
                end += 4096
            else:
                os.pwrite(db, page, random.randrange(DB_SIZE // 4096) * 4096)
        os.fsync(db)
        stop.wait(max(0.0, 0.25 - (time.monotonic() - t0)))


bg = threading.Thread(target=checkpoint_like)
if bg_mbs > 0:
    bg.start()
lat = []
buf = b"\3" * 16384
off = 0
end = time.monotonic() + secs
while time.monotonic() < end:
    t0 = time.perf_counter()
    os.pwrite(wal, buf, off)
    os.fdatasync(wal)
    lat.append((time.perf_counter() - t0) * 1000)
    off += len(buf)
    if mode == "reuse":
        off %= WAL_SPAN
stop.set()
if bg_mbs > 0:
    bg.join()
for f in ("wal", "db"):
    os.unlink(os.path.join(work, f))
os.rmdir(work)

lat.sort()
n = len(lat)
print(
    f"WAL {mode}, database pages {bg_mbs:.0f} MB/s{' (growing)' if grow_db else ''}: "
    f"{n} flushes in {secs:.0f} s, p50 {lat[n // 2]:.2f} ms, p99 {lat[int(n * 0.99)]:.2f} ms, "
    f"max {lat[-1]:.1f} ms, over 50 ms: {sum(1 for x in lat if x > 50)}"
)
