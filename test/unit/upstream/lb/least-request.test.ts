import * as assert from 'node:assert/strict';
import { LeastRequestBalancer, type LeastRequestOptions } from '../../../../sidecar/src/upstream/lb/least-request';
import { fixedRandom, hosts, letter } from '../upstream-fixtures';

const P2C: LeastRequestOptions = { choiceCount: 2, activeRequestBias: 1, activeRequestBiasExplicit: false, selectionMethod: 'N_CHOICES' };

describe('LeastRequestBalancer (specs/load-balancing.md §1.3, §7.2)', () => {
  it('P2C with a random stub: [0,0] -> h0, [0,1] -> h1, [1,0] -> h1, [1,1] -> h1 when h0 is busy', () => {
    for (const [draws, expected] of [
      [[0, 0], 'A'],
      [[0, 1], 'B'],
      [[1, 0], 'B'],
      [[1, 1], 'B'],
    ] as const) {
      const hs = hosts(1, 1);
      hs[0]!.activeRequests = 5;
      // The first draw seeds the (unused) EDF; then the choices.
      const b = new LeastRequestBalancer(hs, fixedRandom(99, ...draws), P2C);
      assert.equal(letter(b.pick()), expected, `draws ${draws.join(',')}`);
    }
  });

  it('ties keep the first sample: [1,0] with both idle -> h1', () => {
    const b = new LeastRequestBalancer(hosts(1, 1), fixedRandom(99, 1, 0), P2C);
    assert.equal(letter(b.pick()), 'B');
  });

  it('P(busy host) = (1/n)^choices over every draw combination', () => {
    for (const [n, c] of [
      [2, 2],
      [3, 2],
      [2, 3],
    ] as const) {
      let busy = 0;
      let total = 0;
      const combos = n ** c;
      for (let k = 0; k < combos; k++) {
        const draws: number[] = [];
        for (let j = 0, x = k; j < c; j++, x = Math.floor(x / n)) draws.push(x % n);
        const hs = hosts(...Array<number>(n).fill(1));
        hs[0]!.activeRequests = 3;
        const b = new LeastRequestBalancer(hs, fixedRandom(0, ...draws), { ...P2C, choiceCount: c });
        if (b.pick() === hs[0]) busy += 1;
        total += 1;
      }
      assert.equal(busy / total, (1 / n) ** c, `n=${n} c=${c}`);
    }
  });

  it('FULL_SCAN always takes the least loaded host', () => {
    const hs = hosts(1, 1, 1);
    hs[0]!.activeRequests = 2;
    hs[1]!.activeRequests = 0;
    hs[2]!.activeRequests = 1;
    const b = new LeastRequestBalancer(hs, fixedRandom(0, 1, 2, 3), { ...P2C, selectionMethod: 'FULL_SCAN' });
    for (let i = 0; i < 5; i++) assert.equal(letter(b.pick()), 'B');
  });

  it('weighted (2:1, bias 1): h0 with 4 active weighs 2/5 = 0.4 against h1 1.0, so h1 is picked more', () => {
    const hs = hosts(2, 1);
    hs[0]!.activeRequests = 4;
    const b = new LeastRequestBalancer(hs, fixedRandom(0), P2C);
    const counts = { A: 0, B: 0 };
    for (let i = 0; i < 140; i++) counts[letter(b.pick()) as 'A' | 'B'] += 1;
    // Deadlines advance by 1/0.4 = 2.5 for h0 and 1.0 for h1: 2 : 5.
    assert.deepEqual(counts, { A: 40, B: 100 });
  });

  it('weighted with bias 0 is plain 2:1 weighted round robin whatever the load', () => {
    const hs = hosts(2, 1);
    hs[0]!.activeRequests = 100;
    const b = new LeastRequestBalancer(hs, fixedRandom(0), { ...P2C, activeRequestBias: 0, activeRequestBiasExplicit: true });
    let out = '';
    for (let i = 0; i < 6; i++) out += letter(b.pick());
    assert.equal(out, 'ABAABA');
  });

  it('bias 2: weight / (active + 1)^2 (2 / 25 = 0.08 for h0 with 4 active)', () => {
    const hs = hosts(2, 1);
    hs[0]!.activeRequests = 4;
    const b = new LeastRequestBalancer(hs, fixedRandom(0), { ...P2C, activeRequestBias: 2, activeRequestBiasExplicit: true });
    const counts = { A: 0, B: 0 };
    for (let i = 0; i < 108; i++) counts[letter(b.pick()) as 'A' | 'B'] += 1;
    // 0.08 : 1.0 = 8 : 100.
    assert.deepEqual(counts, { A: 8, B: 100 });
  });
});
