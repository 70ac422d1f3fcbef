/**
 * Regressions found by the differential fuzzer (npm run fuzz:scheduler): each
 * fixture in fixtures/fuzz is a shrunk CIB on which the scheduler once
 * disagreed with crm_simulate, its first line an XML comment naming the cause.
 * The transition (summary and executed actions) must be crm_simulate's.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { formatSimulation, schedule } from '../src';
import { crmSimulateFile, sections } from './simulate-output';

const dir = join(__dirname, 'fixtures', 'fuzz');
const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith('.xml'))
  .sort();

describe('fuzzer regressions agree with crm_simulate', () => {
  it('has fixtures, each naming its cause', () => {
    expect(fixtures.length).toBeGreaterThan(0);
    for (const f of fixtures)
      expect(readFileSync(join(dir, f), 'utf8')).toMatch(/^<!-- \S.*\S -->\n<cib /);
  });
  for (const f of fixtures) {
    it(f.replace(/\.xml$/, ''), () => {
      const xml = readFileSync(join(dir, f), 'utf8');
      const reference = crmSimulateFile(join(dir, f));
      // an empty transition is a valid answer (nothing to do), a missing one is not
      expect(reference).toContain('Transition Summary:');
      const expected = sections(reference);
      const ours = sections(formatSimulation(schedule(xml), { simulate: true }));
      expect({ summary: ours.summary, actions: ours.actions }).toEqual({
        summary: expected.summary,
        actions: expected.actions,
      });
    });
  }
});
