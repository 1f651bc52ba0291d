// The admin dashboard in a real headless Chromium (Debian `chromium`, driven by playwright-core): the page loads
// offline, lists the demo's clusters (reviews, ratings, details) with their hosts, shows live request rates, and
// a host ejected during the test turns EJECTED without a reload.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import type { Sidecar } from '../../sidecar/src/sidecar';
import { HostHealthFlags } from '../../sidecar/src/upstream/host-health-flags';
import { startHttp1Backend, type Backend } from '../support/backends';
import { h1Request } from '../support/http-clients';
import { httpListener, listenerPort, startStaticSidecar, staticCluster } from '../support/sidecar';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe('dashboard in headless Chromium', function () {
  this.timeout(60_000);
  let backends: Backend[] = [];
  let sidecar: Sidecar;
  let browser: BrowserContext | undefined;
  let profile: string;

  before(async function () {
    if (!fs.existsSync(CHROMIUM)) {
      // .ci/run installs it; a developer machine without it skips rather than fails.
      this.skip();
    }
    backends = await Promise.all(['reviews-1', 'reviews-2', 'ratings-1', 'details-1'].map((n) => startHttp1Backend(n)));
    const [r1, r2, ra, de] = backends as [Backend, Backend, Backend, Backend];
    // The demo's clusters (examples/demo/demo-resources.yaml), static here so the test can eject a host itself.
    sidecar = await startStaticSidecar({
      listeners: [httpListener('demo_outbound_http', [
        { name: 'reviews', domains: ['reviews'], routes: [{ match: { prefix: '/' }, route: { cluster: 'reviews' } }] },
        { name: 'ratings', domains: ['ratings'], routes: [{ match: { prefix: '/' }, route: { cluster: 'ratings' } }] },
        { name: 'details', domains: ['details'], routes: [{ match: { prefix: '/' }, route: { cluster: 'details' } }] },
      ])],
      clusters: [staticCluster('reviews', [r1.port, r2.port]), staticCluster('ratings', [ra.port]), staticCluster('details', [de.port])],
    });
    profile = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlet-chromium-'));
    // A fresh profile directory (playwright passes it as --user-data-dir).
    browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS });
  });
  after(async () => {
    await browser?.close();
    await sidecar?.stop();
    await Promise.all(backends.map((b) => b.close()));
    if (profile !== undefined) fs.rmSync(profile, { recursive: true, force: true });
  });

  it('shows the clusters and hosts, live rates, and an ejected host as EJECTED', async () => {
    assert.ok(browser !== undefined);
    const page = await browser.newPage();
    const external: string[] = [];
    page.on('request', (req) => {
      if (!req.url().startsWith(`http://127.0.0.1:${sidecar.admin.port}/`)) external.push(req.url());
    });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(String(error)));
    await page.goto(`http://127.0.0.1:${sidecar.admin.port}/`);
    await page.waitForSelector('[data-cluster="reviews"] tr.host');
    const names = await page.$$eval('[data-cluster]', (nodes) => nodes.map((n) => n.getAttribute('data-cluster')));
    assert.deepEqual(names, ['details', 'ratings', 'reviews']);
    const reviewHosts = await page.$$eval('[data-cluster="reviews"] tr.host', (rows) => rows.map((r) => r.getAttribute('data-state')));
    assert.deepEqual(reviewHosts, ['healthy', 'healthy']);

    // Traffic: the reviews request rate becomes non-zero on a later poll.
    const port = listenerPort(sidecar, 'demo_outbound_http');
    const traffic = (async () => {
      for (let i = 0; i < 40; i++) await h1Request(port, 'reviews', '/');
    })();
    // Polled from here: the page's CSP forbids the eval waitForFunction would need.
    const deadline = Date.now() + 10_000;
    let rps = 0;
    while (rps <= 0 && Date.now() < deadline) {
      rps = Number(await page.textContent('[data-cluster="reviews"] .rps'));
      if (rps <= 0) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.ok(rps > 0, 'reviews req/s shown');
    await traffic;

    // Eject reviews-2 as outlier detection would (it owns the flag); the page updates without a reload.
    const ejected = sidecar.clusters.get('reviews')?.hosts.find((h) => h.port === (backends[1] as Backend).port);
    assert.ok(ejected !== undefined);
    ejected.healthFlags = ejected.healthFlags | HostHealthFlags.OUTLIER_EJECTED;
    const selector = `[data-cluster="reviews"] tr[data-host="${ejected.key}"][data-state="ejected"]`;
    await page.waitForSelector(selector, { timeout: 10_000 });
    assert.equal((await page.textContent(`${selector} .badge`))?.trim(), 'EJECTED');
    assert.deepEqual(external, [], 'no request leaves the admin server (works offline, no CDN)');
    assert.deepEqual(errors, []);
  });
});
