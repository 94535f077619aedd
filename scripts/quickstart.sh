#!/usr/bin/env bash
# Quick start: install, build, start a single-machine cluster (master + local node) and run
# the word-count example over the text shipped in examples/data, printing the top words.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ]; then npm install --no-audit --no-fund; fi
npm run --silent build
export DISCO_MASTER_HOST="${DISCO_MASTER_HOST:-localhost}"
if ! ./bin/disco status >/dev/null 2>&1; then ./bin/disco start; fi
./bin/disco status
input="$(pwd)/examples/data/sample.txt"
echo "Running the word count over ${input} ..."
./bin/disco run examples/wordcount.ts "file://${input}" --wait
echo "Top 20 words:"
./bin/disco results @ | sort -t $'\t' -k2,2nr -k1,1 | head -20
echo
echo "The cluster keeps running: open the web address above, or stop it with ./bin/disco stop"
