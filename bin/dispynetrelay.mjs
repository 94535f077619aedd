#!/usr/bin/env node
import '../dist/cli/dispynetrelay.js';
