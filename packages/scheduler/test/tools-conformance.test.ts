import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { belowFloor, parseTierTable, raisedFloor, readFloor } from '../tools/conformance';

const output = `FAIL primitive/a: transition summary differs
tier primitive: 150 passed, 3 failed
tier group: 30 passed, 5 failed
183 passed, 8 failed
`;

describe('the conformance floor (conformance:scheduler)', () => {
  const table = parseTierTable(output);

  it('reads the per-tier table scheduler-conformance prints', () => {
    expect([...table]).toEqual([
      ['primitive', { passed: 150, failed: 3 }],
      ['group', { passed: 30, failed: 5 }],
    ]);
  });

  it('fails a tier that passes fewer inputs than its floor, or that gave no result', () => {
    expect(belowFloor({ primitive: 150, group: 30 }, table)).toEqual([]);
    expect(belowFloor({ primitive: 151, group: 0, clone: 10, advanced: 0 }, table)).toEqual([
      'tier primitive: 150 passed, below the floor of 151',
      'tier clone: no result (floor 10)',
    ]);
  });

  it('only ever raises the floor', () => {
    expect(raisedFloor({ primitive: 152, group: 10, clone: 7 }, table)).toEqual({
      primitive: 152,
      group: 30,
      clone: 7,
    });
  });

  it('says which file and tier is wrong in a bad floor file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'floor-'));
    try {
      const f = join(dir, 'floor.json');
      writeFileSync(f, '{"// note": "x", "primitive": 3}');
      expect(readFloor(f)).toEqual({ primitive: 3 });
      writeFileSync(f, '{"primitive": -1}');
      expect(() => readFloor(f)).toThrow(
        /floor\.json: tier "primitive" wants a non-negative integer, got -1/,
      );
      writeFileSync(f, '{"primitive": ');
      expect(() => readFloor(f)).toThrow(/cannot read the conformance floor .*floor\.json/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
