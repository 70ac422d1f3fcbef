import { parseXml, readCib } from '@remora/cib';
import type { Cib } from '@remora/cib';
import { buildStatusView, injectTransition, schedule } from '../src';
import type { Schedule } from '../src';
import * as nodes from '../src/nodes';
import { renderCib } from '../tools/cib-model';
import { deploymentCib } from '../tools/deployment-cib';
import { generateCib } from '../tools/generate';

/*
 * The status lists of a schedule take the node states from the scheduling
 * unpack (current) and, when they follow from it, from the states before
 * the transition plus the executed actions (revised), instead of unpacking
 * the CIB again: they must read exactly as the CIB read from scratch.
 */

function fromScratch(cib: Cib): { current: unknown; revised: unknown } {
  const r = schedule(cib);
  const now = nodes.scheduleTime(cib);
  return {
    current: buildStatusView(cib, { now }),
    revised: buildStatusView(injectTransition(cib, r.actions), { now }),
  };
}

/** How many times reading a schedule's status lists unpacks a CIB. */
function unpacksFor(r: Schedule): number {
  const spy = jest.spyOn(nodes, 'unpackNodeStates');
  try {
    void r.current;
    void r.revised;
    return spy.mock.calls.length;
  } finally {
    spy.mockRestore();
  }
}

describe('status lists of a schedule', () => {
  it.each([
    ['guests', {}],
    ['remote nodes', { remote: true }],
    ['guests with groups', { groups: true }],
  ])('deployment CIB with %s: the same as read from scratch', (_name, options) => {
    const cib = readCib(parseXml(deploymentCib(3, 4, 5, options)));
    const r = schedule(cib);
    expect(unpacksFor(r)).toBe(0);
    const scratch = fromScratch(cib);
    expect(r.current).toEqual(scratch.current);
    expect(r.revised).toEqual(scratch.revised);
    // every guest / remote node comes up: the states followed from the actions
    expect(r.revised.nodes.filter((n) => n.kind !== 'member').every((n) => n.online)).toBe(true);
  });

  it('random CIBs (every generator feature): the same as read from scratch', () => {
    let followed = 0;
    for (let seed = 1; seed <= 150; seed++) {
      const cib = readCib(parseXml(renderCib(generateCib(seed * 7919))));
      const r = schedule(cib);
      if (unpacksFor(r) === 0) followed++;
      const scratch = fromScratch(cib);
      expect({ seed, current: r.current }).toEqual({ seed, current: scratch.current });
      expect({ seed, revised: r.revised }).toEqual({ seed, revised: scratch.revised });
    }
    // both ways are exercised
    expect(followed).toBeGreaterThan(10);
    expect(followed).toBeLessThan(150);
  });
});
