#!/usr/bin/env node
import '../dist/cli/disco.js';
