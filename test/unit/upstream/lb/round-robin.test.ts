import * as assert from 'node:assert/strict';
import { EdfScheduler } from '../../../../sidecar/src/upstream/lb/edf-scheduler';
import { RoundRobinBalancer } from '../../../../sidecar/src/upstream/lb/round-robin';
import { RandomBalancer } from '../../../../sidecar/src/upstream/lb/random';
import { fixedRandom, hosts, letter } from '../upstream-fixtures';

const ctx = {};

function sequence(balancer: { pick(c: object, a: number): unknown }, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += letter(balancer.pick(ctx, 0) as never);
  return out;
}

describe('RoundRobinBalancer (specs/load-balancing.md §1.2, §7.1)', () => {
  it('equal weights: hosts[(seed + k) % n] from a random start', () => {
    for (const [seed, expected] of [
      [0, 'ABCABC'],
      [1, 'BCABCA'],
      [2, 'CABCAB'],
      [5, 'CABCAB'],
    ] as const) {
      assert.equal(sequence(new RoundRobinBalancer(hosts(1, 1, 1), fixedRandom(seed)), 6), expected, `seed ${seed}`);
    }
  });

  it('weights 3:2:1, seed 0: the EDF sequence ABACBAABACBA (createWithPicks, 1e-13 epsilon)', () => {
    assert.equal(sequence(new RoundRobinBalancer(hosts(3, 2, 1), fixedRandom(0)), 12), 'ABACBAABACBA');
  });

  it('weights 3:2:1, other seeds rotate the cycle', () => {
    const expected: Record<number, string> = { 1: 'BACBAA', 2: 'ACBAAB', 3: 'CBAABA', 4: 'BAABAC', 5: 'AABACB', 6: 'ABACBA' };
    for (const [seed, seq] of Object.entries(expected)) {
      assert.equal(sequence(new RoundRobinBalancer(hosts(3, 2, 1), fixedRandom(Number(seed))), 6), seq, `seed ${seed}`);
    }
  });

  it('other weight vectors of §7.1 (seed 0): 2:1 and 5:1:1', () => {
    assert.equal(sequence(new RoundRobinBalancer(hosts(2, 1), fixedRandom(0)), 6), 'ABAABA');
    assert.equal(sequence(new RoundRobinBalancer(hosts(5, 1, 1), fixedRandom(0)), 14), 'AAAABCAAAAABCA');
  });

  it('long run proportions stay 3:2:1', () => {
    const b = new RoundRobinBalancer(hosts(3, 2, 1), fixedRandom(12345));
    const counts: Record<string, number> = {};
    for (let i = 0; i < 6000; i++) {
      const l = letter(b.pick());
      counts[l] = (counts[l] ?? 0) + 1;
    }
    assert.deepEqual(counts, { A: 3000, B: 2000, C: 1000 });
  });

  it('no hosts: undefined; one host: always it', () => {
    assert.equal(new RoundRobinBalancer([], fixedRandom(0)).pick(), undefined);
    assert.equal(sequence(new RoundRobinBalancer(hosts(7), fixedRandom(3)), 3), 'AAA');
  });

  it('an empty EDF scheduler fed A, B, C in order (old Envoy) gives ABACBA ABAACB', () => {
    const s = EdfScheduler.empty<string>();
    const weights: Record<string, number> = { A: 3, B: 2, C: 1 };
    for (const k of ['A', 'B', 'C']) s.add(weights[k]!, k);
    let out = '';
    for (let i = 0; i < 12; i++) out += s.pickAndAdd((k) => weights[k]!);
    assert.equal(out, 'ABACBAABAACB');
  });
});

describe('RandomBalancer (§1.4)', () => {
  it('hosts[r % n]', () => {
    assert.equal(sequence(new RandomBalancer(hosts(1, 1, 1), fixedRandom(4, 0, 2, 7)), 4), 'BACB');
  });
});
