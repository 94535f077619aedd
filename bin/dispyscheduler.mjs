#!/usr/bin/env node
import '../dist/cli/dispyscheduler.js';
