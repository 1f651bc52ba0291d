import * as assert from 'node:assert/strict';
import { computePriorityLoad, type PriorityCounts } from '../../../../sidecar/src/upstream/lb/priority-load';

function level(hosts: number, healthy: number, degraded = 0, excluded = 0): PriorityCounts {
  return { hosts, healthy, degraded, excluded };
}

describe('computePriorityLoad (specs/load-balancing.md §1.7, §1.10, table §7.4: opf 140, panic 50%)', () => {
  const rows: { name: string; levels: PriorityCounts[]; health: number[]; healthy: number[]; degraded?: number[]; panic: boolean[]; threshold?: number }[] = [
    { name: 'P0: 4 hosts, 1 healthy', levels: [level(4, 1)], health: [35], healthy: [100], panic: [true] },
    { name: 'P0: 4 hosts, 2 healthy', levels: [level(4, 2)], health: [70], healthy: [100], panic: [false] },
    { name: 'P0: 4 hosts, 3 healthy', levels: [level(4, 3)], health: [100], healthy: [100], panic: [false] },
    { name: 'P0: 10 hosts, 7 healthy', levels: [level(10, 7)], health: [98], healthy: [100], panic: [false] },
    { name: 'P0 10/5, P1 10/10', levels: [level(10, 5), level(10, 10)], health: [70, 100], healthy: [70, 30], panic: [false, false] },
    { name: 'P0 4/1, P1 4/4', levels: [level(4, 1), level(4, 4)], health: [35, 100], healthy: [35, 65], panic: [false, false] },
    { name: 'P0 4/1, P1 4/1 (total panic, split by host count)', levels: [level(4, 1), level(4, 1)], health: [35, 35], healthy: [50, 50], panic: [true, true] },
    { name: 'P0 4/0, P1 4/0 (total panic)', levels: [level(4, 0), level(4, 0)], health: [0, 0], healthy: [50, 50], panic: [true, true] },
    { name: 'P0 4: 2 healthy, 2 degraded', levels: [level(4, 2, 2)], health: [70], healthy: [70], degraded: [30], panic: [false] },
    { name: 'P0 4: 1 healthy, 1 excluded', levels: [level(4, 1, 0, 1)], health: [46], healthy: [100], panic: [true] },
    { name: 'panic threshold 0, all unhealthy', levels: [level(4, 0)], health: [0], healthy: [100], panic: [false], threshold: 0 },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const r = computePriorityLoad(row.levels, 140, row.threshold ?? 50);
      assert.deepEqual(r.health, row.health, 'health');
      assert.deepEqual(r.healthyLoad, row.healthy, 'healthy load');
      assert.deepEqual(r.degradedLoad, row.degraded ?? row.healthy.map(() => 0), 'degraded load');
      assert.deepEqual(r.panic, row.panic, 'panic');
      assert.equal(r.healthyLoad.reduce((a, b) => a + b, 0) + r.degradedLoad.reduce((a, b) => a + b, 0), 100);
    });
  }

  it('three levels 10/20/10 health with 20/10/0 degraded: 16/28/14 healthy, 28/14/0 degraded (Envoy comment)', () => {
    // 1400 hosts per level so that 140·n/1400 = n/10 exactly; panic off (these levels would otherwise be in panic).
    const r = computePriorityLoad([level(1400, 100, 200), level(1400, 200, 100), level(1400, 100, 0)], 140, 0);
    assert.deepEqual(r.health, [10, 20, 10]);
    assert.deepEqual(r.degradedHealth, [20, 10, 0]);
    assert.deepEqual(r.healthyLoad, [16, 28, 14]);
    assert.deepEqual(r.degradedLoad, [28, 14, 0]);
  });

  it('P0 keeps 100% down to 72% healthy, then P1 absorbs the deficit', () => {
    assert.deepEqual(computePriorityLoad([level(100, 72), level(10, 10)], 140, 50).healthyLoad, [100, 0]);
    assert.deepEqual(computePriorityLoad([level(100, 71), level(10, 10)], 140, 50).healthyLoad, [99, 1]);
  });

  it('weighted_priority_health uses weights instead of counts', () => {
    const l: PriorityCounts = { hosts: 2, healthy: 1, degraded: 0, excluded: 0, weights: { hosts: 10, healthy: 9, degraded: 0, excluded: 0 } };
    assert.deepEqual(computePriorityLoad([l, level(2, 2)], 140, 50, true).health, [100, 100]);
    assert.deepEqual(computePriorityLoad([l, level(2, 2)], 140, 50, false).health, [70, 100]);
  });
});
