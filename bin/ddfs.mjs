#!/usr/bin/env node
// The ddfs command line is a CommonJS bundle (scripts/build.mjs, ddfsBuild).
import { createRequire } from 'node:module';

createRequire(import.meta.url)('../dist/cli/ddfs.cjs');
