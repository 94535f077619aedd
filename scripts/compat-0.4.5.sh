#!/usr/bin/env bash
# Runs the ORIGINAL Disco 0.4.5 test suite (its Python client, classic Python worker and tests)
# against this master and two nodes on loopback. Nothing of the original is in this repository:
# point ORIG at an unpacked 0.4.5 source tree (lib/, tests/, examples/, ext/).
#
#   npm run build
#   ORIG=/path/to/disco-0.4.5 scripts/compat-0.4.5.sh                 # every test, one by one
#   ORIG=/path/to/disco-0.4.5 scripts/compat-0.4.5.sh test_simple test_ddfs.DDFSReadTestCase
#
# Each test id runs in its own Python process with a timeout (T seconds, default 180), so a test
# that hangs (test_sigint under Python 3) does not stop the rest. Results: $OUT/summary
# (default /tmp/disco-compat-<pid>/summary), one "<test id> PASS|FAIL|SKIP|TIMEOUT <secs>" a line;
# logs per test beside it. Extra settings for the master and nodes may be given in the
# environment (e.g. DDFS_BLOB_REPLICAS=2). See docs/compat-0.4.5.md.
set -euo pipefail

ORIG=${ORIG:?set ORIG to an unpacked Disco 0.4.5 source tree}
HERE=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-/tmp/disco-compat-$$}
ROOT=$OUT/root
mkdir -p "$ROOT/master" "$ROOT/home"

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
PORT=$(free_port)
PUT_PORT=$(free_port)
TEST_PORT=$(free_port)
NODES=(127.0.0.12 127.0.0.13)

export DISCO_PORT=$PORT DISCO_MASTER_HOST=127.0.0.1 DISCO_MASTER=http://127.0.0.1:$PORT
export DISCO_LISTEN_HOST=127.0.0.1 DISCO_SPAWN_LOCAL_NODES= DISCO_SECRET= DDFS_PUT_PORT=$PUT_PORT
export DISCO_SETTINGS_FILE=$ROOT/no-settings-file
# The classic worker never sees Disco settings in its environment (as in 0.4.5): it resolves
# dir:// URLs with its own settings lookup, so the nodes get a ~/.disco naming this port.
printf 'DISCO_PORT = "%s"\nDDFS_PUT_PORT = "%s"\n' "$PORT" "$PUT_PORT" >"$ROOT/home/.disco"

printf '{"hosts":[["%s","2"],["%s","2"]],"blacklist":[],"gc_blacklist":[]}' "${NODES[@]}" \
  >"$ROOT/master/disco_$PORT.config"
PYENV_ROOT=${PYENV_ROOT:-$HOME/.pyenv} # the nodes get another HOME; python shims need this
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
trap 'exit 130' INT TERM
DISCO_ROOT=$ROOT/master node "$HERE/dist/master.js" >"$ROOT/master.log" 2>&1 &
pids+=($!)
until curl -sf "$DISCO_MASTER/disco/version" >/dev/null; do sleep 0.2; done
for h in "${NODES[@]}"; do
  mkdir -p "$ROOT/node-$h"
  HOME=$ROOT/home PYENV_ROOT=$PYENV_ROOT DISCO_ROOT=$ROOT/node-$h \
    node "$HERE/dist/node.js" --host "$h" --master "$DISCO_MASTER" >"$ROOT/node-$h.log" 2>&1 &
  pids+=($!)
done
until [ "$(curl -s "$DISCO_MASTER/disco/ctrl/nodeinfo" | grep -o '"connected":true' | wc -l)" = 2 ]; do sleep 0.2; done

export DISCO_HOME=$ORIG PYTHONPATH=$ORIG/lib:$ORIG/tests DISCO_WORKER_MAX_MEM= PYTHONWARNINGS=ignore
export DISCO_TEST_HOST=127.0.0.1 DISCO_TEST_PORT=$TEST_PORT
cd "$ORIG/tests"
if [ $# -eq 0 ]; then
  set -- $(python3 -c '
import glob, unittest
def walk(s):
    if isinstance(s, unittest.TestSuite):
        for x in s: yield from walk(x)
    else: yield s
for m in sorted(n[:-3] for n in glob.glob("test_*.py")):
    for t in walk(unittest.TestLoader().loadTestsFromName(m)):
        print(m if t.id().startswith("unittest.loader") else t.id())')
fi
# test_50k.test_50k starts 50,000 Python worker processes (hours on a small machine) and would
# hog the cluster for every test after it: left out unless EXCLUDE says otherwise ('' for none).
EXCLUDE=${EXCLUDE-test_50k.ManyMapTestCase.test_50k}
: >"$OUT/summary"
for id in "$@"; do
  case " $EXCLUDE " in *" $id "*)
    echo "$id EXCLUDED 0s" | tee -a "$OUT/summary"
    continue
    ;;
  esac
  start=$(date +%s)
  rc=0
  timeout -k 5 "${T:-180}" python3 -c '
import os, sys
from disco.settings import DiscoSettings
from disco.test import TestRunner
s = DiscoSettings(); s["DISCO_DEBUG"] = "trace"
r = TestRunner(s).run(sys.argv[1])
os._exit(0 if r.wasSuccessful() and not r.skipped else (3 if r.wasSuccessful() else 1))' "$id" \
    >"$OUT/$id.log" 2>&1 || rc=$?
  case $rc in 0) st=PASS ;; 3) st=SKIP ;; 124 | 137) st=TIMEOUT ;; *) st=FAIL ;; esac
  echo "$id $st $(($(date +%s) - start))s" | tee -a "$OUT/summary"
done
echo "$(grep -c ' PASS ' "$OUT/summary" || true) passed, $(grep -Ec ' (FAIL|TIMEOUT) ' "$OUT/summary" || true) failed, $(grep -Ec ' (SKIP|EXCLUDED) ' "$OUT/summary" || true) skipped"
