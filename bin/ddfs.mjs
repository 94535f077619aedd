#!/usr/bin/env node
import '../dist/cli/ddfs.js';
