import { join } from 'node:path';
import { renderCib, units } from '../tools/cib-model';
import { compareOutputs } from '../tools/compare';
import { differential } from '../tools/differential';
import { generateCib, parseFeatures } from '../tools/generate';
import { caseSeed } from '../tools/rng';
import { splitCommand } from '../tools/run';
import { ddmin, shrinkCib } from '../tools/shrink';

const buggy = join(__dirname, 'fixtures', 'no-colocation-simulate');

describe('the shrinker (delta debugging)', () => {
  it('reduces a list to the items the failure needs', async () => {
    const items = Array.from({ length: 40 }, (_, i) => i);
    const r = await ddmin(items, async (kept) => kept.includes(3) && kept.includes(29));
    expect(r.kept).toEqual([3, 29]);
  });

  it('stops at its test budget', async () => {
    let calls = 0;
    const r = await ddmin(
      Array.from({ length: 64 }, (_, i) => i),
      async (kept) => {
        calls++;
        return kept.includes(5);
      },
      { maxTests: 3 },
    );
    expect(calls).toBe(3);
    expect(r.kept).toContain(5);
  });

  it('shrinks a CIB on which a scheduler that ignores colocations differs from crm_simulate to the colocation that matters', async () => {
    const features = parseFeatures('primitive,group,location,colocation,history');
    const opts = { reference: ['crm_simulate'], candidate: [buggy], timeoutMs: 30000 };
    let seed: number | undefined;
    for (let i = 0; seed === undefined; i++) {
      const s = caseSeed(3, i);
      if ((await differential(renderCib(generateCib(s, { features })), opts)).status === 'differ') {
        seed = s;
      } else if (i > 40) throw new Error('no differing case among 40 CIBs');
    }
    const cib = generateCib(seed, { features });
    const r = await shrinkCib(
      cib,
      async (c) => (await differential(renderCib(c), opts)).status === 'differ',
    );
    expect(r.removed).toBeGreaterThan(0);
    expect(units(r.cib).length).toBeLessThan(units(cib).length);
    expect(r.cib.constraints.filter((c) => c.type === 'colocation')).toHaveLength(1);
    expect((await differential(renderCib(r.cib), opts)).status).toBe('differ');
  });
});

describe('output comparison and command lines', () => {
  const out = (summary: string[], actions: string[]): string =>
    `Current cluster status:\n\nTransition Summary:\n${summary.join('\n')}\n\nExecuting Cluster Transition:\n${actions.join('\n')}\n\nRevised Cluster Status:\n  * r1 Started\n`;

  it('folds white space and ignores order and pseudo actions, as scheduler-conformance does', () => {
    const a = out(
      ['  * Start      r1     ( node1 )', '  * Stop r2 ( node2 )  due to node availability'],
      ['  * Resource action: r1   start on node1', '  * Pseudo action:   g_start_0'],
    );
    const b = out(
      ['  * Stop r2 (node2) due to node availability', '  * Start r1 (node1)'],
      ['  * Resource action: r1 start on node1'],
    );
    expect(compareOutputs(a, b).agree).toBe(true);
  });

  it('reports lines only in the reference (-) and only in the candidate (+)', () => {
    const c = compareOutputs(
      out(['  * Start r1 ( node1 )'], []),
      out(['  * Start r1 ( node2 )'], ['  * Fencing node3 (reboot)']),
    );
    expect(c.agree).toBe(false);
    expect(c.reason).toBe('transition summary differs');
    expect(c.diff).toContain('- * Start r1 (node1)');
    expect(c.diff).toContain('+ * Start r1 (node2)');
    expect(c.diff).toContain('+ * Fencing node3 (reboot)');
    expect(compareOutputs(out([], []), 'error: unknown command').reason).toMatch(
      /no "Transition Summary:"/,
    );
  });

  it('splits a candidate command like a shell', () => {
    expect(splitCommand(`node_modules/.bin/remora simulate --opt "a b" 'c d' e\\ f`)).toEqual([
      'node_modules/.bin/remora',
      'simulate',
      '--opt',
      'a b',
      'c d',
      'e f',
    ]);
    expect(() => splitCommand('remora "simulate')).toThrow(/unterminated/);
  });
});
