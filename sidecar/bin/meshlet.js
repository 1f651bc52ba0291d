#!/usr/bin/env -S node --min-semi-space-size=2 --max-semi-space-size=2 --no-parallel-scavenge
// The `meshlet` command (package.json "bin"): runs the compiled entry point (npm install builds it via `prepare`).
//
// Node flags (issue 3; figures in the commits that set them):
// - `--min-semi-space-size=2 --max-semi-space-size=2`: V8's young generation is 2 x 2 MB from the start instead of
//   growing from 1 MB up to Node 20's 2 x 16 MB. The cap saves ~20 MB RSS under load; the fixed start keeps a
//   scavenge from running every ~80 ms at 2,000 rps (a 1 MB start put p99 at 1.7x HAProxy's). 4 MB measured the same
//   CPU and p99 and 3 MB more peak RSS; 1 MB promotes in-flight requests at saturation and ends 10 MB higher.
// - `--no-parallel-scavenge`: meshlet is a one-core proxy (pinned in the bench, CPU-limited in a pod), and V8's
//   parallel scavenge made the main thread wait 1-3.7 ms for helper threads time-sliced on the same core at every
//   scavenge; on the main thread alone the same scavenge is 0.2-0.6 ms. (`--single-threaded-gc` did as well for the
//   tail, but without concurrent marking peak RSS reached 120 MB.)
// The earlier `--no-allocation-site-pretenuring` worked around what turned out to be nepotism from per-request
// entries in long-lived Sets and Maps (fixed in the code: proxy/coarse-deadline-queue.ts, codec/http2/h2-stream-table.ts);
// without it the same load measures the same. `--expose-gc` went with the in-process schema release, which a child
// process replaced (xds/bootstrap-decode-process.ts).
// The shebang applies them when this file is run as a program (npm's bin link, the image's /usr/local/bin/meshlet);
// `node [flags] sidecar/bin/meshlet.js` uses the caller's flags instead. bench/proxy.bench.ts launches meshlet with
// the flags of this first line.
'use strict';

require('../../dist/sidecar/src/main.js');
