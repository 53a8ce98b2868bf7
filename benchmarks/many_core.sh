#!/usr/bin/env bash
# Many-core measurements, as run on a quiet 16-core machine (see docs/benchmarks.md and
# docs/distributed.md): the public-API bench in separate processes at 1, 2, 8 and 16 threads,
# and data-parallel ranks against threads. Needs numpy, numba, torch, onnxruntime, onnx, tqdm;
# wheels in .whl/ (mpi4py, mpich) are installed into /tmp/site first when present.
#   OUT=/tmp/out bash benchmarks/many_core.sh
set -u
OUT=${OUT:-/tmp/many_core}
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=$PWD/src:/tmp/site PATH=/tmp/site/bin:$PATH
else
  export PYTHONPATH=$PWD/src
fi
export PYTHONUNBUFFERED=1
python3 -c "import numpy, numba, torch; print('numpy', numpy.__version__, 'numba', numba.__version__, 'torch', torch.__version__)"
echo "cores: $(nproc); load: $(cat /proc/loadavg)"
python3 - <<'PY'                                  # compile the kernels once (numba cache)
import numpy as np, rnnkit
from rnnkit import layers
for cell in (layers.LSTM, layers.GRU):
    m = rnnkit.Sequential([layers.Input((100, 64)), cell(128, return_sequences=True)])
    m.compile(optimizer="sgd", loss="mse")
    x = np.zeros((32, 100, 64), "float32")
    m.train_on_batch(x, np.zeros((32, 100, 128), "float32")); m.predict_on_batch(x)
print("kernels compiled")
PY
timeout ${PROCS_TIMEOUT:-330} python3 -m rnnkit bench --procs --cells lstm,gru \
  --shapes "32,100,64,128;64,50,128,256" --threads 1,2,8,16 --repeats ${REPEATS:-5} \
  --no-write 2>&1 | tee "$OUT/procs.md"
MPIEXEC=$(command -v mpiexec || echo /tmp/site/bin/mpiexec)
timeout ${DIST_TIMEOUT:-200} python3 benchmarks/bench_distributed.py --ranks 1,2,4,8 \
  --mpiexec "$MPIEXEC" 2>&1 | tee "$OUT/distributed.md"
echo "load at end: $(cat /proc/loadavg)"
