#!/usr/bin/env node
// Entry point installed as `aitbc-node`; the compiled CLI lives in dist/ (built by `npm ci` via the prepare script).
import '../dist/cli/main.js'
