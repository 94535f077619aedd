#!/usr/bin/env node
import '../dist/cli/dispynode.js';
