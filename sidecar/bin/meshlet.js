#!/usr/bin/env -S node --min-semi-space-size=4 --max-semi-space-size=4 --no-allocation-site-pretenuring --no-parallel-scavenge --expose-gc
// The `meshlet` command (package.json "bin"): runs the compiled entry point (npm install builds it via `prepare`).
//
// Node flags (issue 3, peak RSS; figures in the commit that set them): `--max-semi-space-size=4` caps V8's young generation
// at 2 x 4 MB instead of Node 20's 2 x 16 MB, which saves ~20 MB RSS under load at no measured CPU cost (1 and 2 MB
// promote per-request garbage into the old space and end higher); `--min-semi-space-size=4` starts it at that size:
// from V8's 1 MB start a scavenge ran every ~80 ms at 2,000 rps (0.15-0.3 ms each), enough to put p99 at 1.7x
// HAProxy's; at 4 MB p99 measured 1.2x (HTTP/1.1), 1.17x (h2c), 0.91x (gRPC) at the same RSS;
// `--no-allocation-site-pretenuring`: after an HTTP/1.1 load, V8 had marked allocation sites the HTTP/2 path shares
// as long-lived and allocated their per-request objects straight into the old space (a mark-compact every ~400 ms,
// 50 MB heap, peak RSS 109-113 MB, p99 up to 2.3x HAProxy's); without pretenuring the same sequence stays at one
// mark-compact and 79 MB; `--no-parallel-scavenge`: meshlet is a one-core proxy (pinned in the bench, CPU-limited in
// a pod), and V8's parallel scavenge made the main thread wait 1-3.7 ms for helper threads time-sliced on the same
// core at every scavenge (the 2,000 rps latency stalls lined up with the scavenges, 200 ms apart); on the main
// thread alone the same scavenge is 0.3-0.6 ms (gRPC p99.9 0.7-1.8 ms instead of 1.0-2.5). `--single-threaded-gc`
// did as well for the tail but, without concurrent marking, let peak RSS reach 120 MB; `--expose-gc` lets `meshlet run` collect the
// proto schema once a static bootstrap is decoded. The shebang applies them when this file is run as a program
// (npm's bin link, the image's /usr/local/bin/meshlet); `node [flags] sidecar/bin/meshlet.js` uses the caller's
// flags instead. bench/proxy.bench.ts launches meshlet with the flags of this first line.
'use strict';

require('../../dist/sidecar/src/main.js');
