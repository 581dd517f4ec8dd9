#!/usr/bin/env python3
# N stats of names that do not exist under DIR, timed: under `diskless run --dir DIR` each one is a
# request to the uploader (wire.def: STAT). Measures what a run holds per request (descriptors, memory):
#   /usr/bin/time -v bin/diskless.js run --endpoint-url URL --to s3://B/P/ --dir DIR -- python3 bench/stat-loop.py DIR 30000
import os
import sys
import time

d, n = sys.argv[1], int(sys.argv[2])
t = time.time()
for i in range(n):
    try:
        os.stat(os.path.join(d, "none%d" % i))
    except FileNotFoundError:
        pass
print("stat-loop: %d stats in %.3f s" % (n, time.time() - t), file=sys.stderr)
