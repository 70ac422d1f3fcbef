import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatSimulation, schedule } from '../src';

/** The parts of crm_simulate's output the scheduler tests compare. */
export interface SimulateSections {
  /** Transition Summary lines, whitespace folded, sorted. */
  readonly summary: string[];
  /** Executed resource/fencing/cluster actions, whitespace folded, sorted. */
  readonly actions: string[];
  /** The current and revised status lists, verbatim. */
  readonly current: string[];
  readonly revised: string[];
}

/** Split `crm_simulate -S` (or `remora simulate -S`) output into the sections tests compare. */
export function sections(text: string): SimulateSections {
  const norm = (l: string): string =>
    l.trim().replace(/\s+/g, ' ').replace(/\(\s*/g, '(').replace(/\s*\)/g, ')');
  const lines = text.split('\n');
  const from = (start: string, stops: string[]): string[] => {
    const i = lines.findIndex((l) => l.startsWith(start));
    if (i < 0) return [];
    const out: string[] = [];
    for (const l of lines.slice(i + 1)) {
      if (stops.some((s) => l.startsWith(s))) break;
      out.push(l);
    }
    return out;
  };
  return {
    summary: from('Transition Summary:', ['Executing', 'Revised'])
      .filter((l) => l.trim())
      .map(norm)
      .sort(),
    actions: from('Executing Cluster Transition:', ['Revised'])
      .filter((l) => /^\s*\* (Resource action|Fencing|Cluster action)/.test(l))
      .map(norm)
      .sort(),
    current: from('Current cluster status:', ['Transition Summary', 'Allocation scores']),
    revised: from('Revised Cluster Status:', []),
  };
}

/**
 * crm_simulate -S on a CIB file; its output counts even when it exits 1 because
 * the simulated transition could not complete ("An invalid transition was produced").
 */
export function crmSimulateFile(file: string): string {
  const r = spawnSync('crm_simulate', ['-x', file, '-S'], { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  if (r.status !== 0 && !/An invalid transition was produced/.test(r.stdout + r.stderr))
    throw new Error(`crm_simulate -x ${file} -S exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** Run the real crm_simulate -S on a CIB (a temporary file, removed after the test file). */
export function crmSimulate(xml: string): string {
  dir ??= mkdtempSync(join(tmpdir(), 'remora-sched-'));
  const file = join(dir, 'cib.xml');
  writeFileSync(file, xml);
  return crmSimulateFile(file);
}

/**
 * Expect remora's transition for a CIB (summary and executed actions) to be
 * crm_simulate's; returns remora's sections for further checks.
 */
export function expectSameTransition(xml: string): SimulateSections {
  const { summary, actions } = sections(crmSimulate(xml));
  const ours = sections(formatSimulation(schedule(xml), { simulate: true }));
  expect({ summary: ours.summary, actions: ours.actions }).toEqual({ summary, actions });
  return ours;
}

let dir: string | undefined;
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});
