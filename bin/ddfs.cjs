#!/usr/bin/env node
// The ddfs command line: one CommonJS file (scripts/build.mjs, ddfsBuild).
require('../dist/cli/ddfs.cjs');
