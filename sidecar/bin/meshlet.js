#!/usr/bin/env node
// The `meshlet` command (package.json "bin"): runs the compiled entry point (npm install builds it via `prepare`).
'use strict';

require('../../dist/sidecar/src/main.js');
