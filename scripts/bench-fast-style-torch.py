"""PyTorch CPU time of the fast style network (the reference forward pass of scripts/make-fast-style-fixtures.py, in
float32), per frame at each size (longest side), with a given thread count: the other side of
scripts/bench-fast-style.ts's numbers, for docs/benchmarks.md. Run with /usr/bin/python3 (python3-torch).

    /usr/bin/python3 scripts/bench-fast-style-torch.py [--threads 2] [--sizes 256,512,1024] [--frames 5] [--weights DIR]
"""
import argparse
import importlib.util
import os
import statistics
import time

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location('ref', os.path.join(HERE, 'make-fast-style-fixtures.py'))
ref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ref)

p = argparse.ArgumentParser()
p.add_argument('--threads', type=int, default=2)
p.add_argument('--sizes', default='256,512,1024')
p.add_argument('--frames', type=int, default=5)
p.add_argument('--weights', default=os.path.join(HERE, '..', '..', 'shared', 'fixtures', 'fast-style-wave'))
a = p.parse_args()
torch.set_num_threads(a.threads)
v = ref.load(a.weights)
photo = Image.open(os.path.join(HERE, '..', '..', 'shared', 'fixtures', 'photos', 'chicago.jpg')).convert('RGB')
print(f'PyTorch {torch.__version__} on CPU, {a.threads} threads (torch.get_num_threads() = {torch.get_num_threads()})')
for size in [int(s) for s in a.sizes.split(',')]:
    w, h = photo.size
    k = size / max(w, h)
    img = np.asarray(photo.resize((round(w * k), round(h * k)), Image.BICUBIC), dtype=np.float32)
    x = torch.from_numpy(img).permute(2, 0, 1).unsqueeze(0).contiguous()
    times, cpu = [], []
    with torch.no_grad():
        ref.network(x, v)  # warm-up
        for _ in range(a.frames):
            t, c = time.perf_counter(), time.process_time()
            ref.network(x, v)
            times.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
    # CPU time: every thread of the process (on a busy machine the wall time grows, OpenMP's waits grow it more).
    print(f'{x.shape[3]}x{x.shape[2]}: median {statistics.median(times):.0f} ms (of {a.frames}), CPU {statistics.median(cpu):.0f} ms')
