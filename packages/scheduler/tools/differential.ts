/**
 * One differential check: run the reference (crm_simulate) and a candidate on
 * the same CIB and compare their transitions; check generated configurations
 * with crm_verify.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FuzzCib } from './cib-model';
import { configurationOnly, renderCib } from './cib-model';
import type { Comparison } from './compare';
import { compareOutputs, hasSummary } from './compare';
import type { RunResult } from './run';
import { run } from './run';

export interface DifferentialOptions {
  /** Reference command, e.g. ['crm_simulate']. */
  readonly reference: readonly string[];
  /** Candidate command, e.g. ['node_modules/.bin/remora', 'simulate']. */
  readonly candidate: readonly string[];
  readonly timeoutMs: number;
  readonly summaryOnly?: boolean;
  readonly cwd?: string;
}

export type Outcome =
  | { readonly status: 'agree'; readonly reference: RunResult }
  | {
      readonly status: 'differ';
      readonly comparison: Comparison;
      readonly reference: RunResult;
      readonly candidate: RunResult;
    }
  /** The reference itself failed on this input: not a verdict on the candidate. */
  | { readonly status: 'reference-failed'; readonly reason: string; readonly reference: RunResult };

/**
 * Why a run gives no comparable output. A non-zero exit alone is not one:
 * crm_simulate exits 1 when the simulated transition fails ("An invalid
 * transition was produced") yet still prints the transition to compare.
 */
function failure(r: RunResult, what: string): string | undefined {
  if (r.timedOut) return `${what} timed out`;
  if (!hasSummary(r.stdout))
    return `${what} printed no "Transition Summary:" (exit ${r.code ?? r.signal}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')})`;
  return undefined;
}

async function withFile<T>(xml: string, fn: (file: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'remora-fuzz-'));
  try {
    const file = join(dir, 'cib.xml');
    await writeFile(file, xml);
    return await fn(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Compare reference and candidate on one CIB (XML text). */
export async function differential(xml: string, o: DifferentialOptions): Promise<Outcome> {
  return withFile(xml, async (file) => {
    const args = ['-x', file, '-S'];
    const [ref, cand] = await Promise.all([
      run([...o.reference, ...args], { timeoutMs: o.timeoutMs, cwd: o.cwd }),
      run([...o.candidate, ...args], { timeoutMs: o.timeoutMs, cwd: o.cwd }),
    ]);
    const refFail = failure(ref, 'reference');
    if (refFail) return { status: 'reference-failed', reason: refFail, reference: ref };
    const candFail = failure(cand, 'candidate');
    if (candFail)
      return {
        status: 'differ',
        comparison: { agree: false, reason: candFail, diff: `${candFail}\n` },
        reference: ref,
        candidate: cand,
      };
    const comparison = compareOutputs(ref.stdout, cand.stdout, o.summaryOnly);
    if (comparison.agree) return { status: 'agree', reference: ref };
    return { status: 'differ', comparison, reference: ref, candidate: cand };
  });
}

/**
 * crm_verify on the configuration alone (every cluster node up, no history):
 * returns undefined when valid, else crm_verify's complaints.
 */
export async function verifyConfiguration(
  cib: FuzzCib,
  timeoutMs = 30000,
): Promise<string | undefined> {
  return withFile(renderCib(configurationOnly(cib)), async (file) => {
    const r = await run(['crm_verify', '-V', '-x', file], { timeoutMs });
    const text = r.stderr + r.stdout;
    // Warnings about fencing or quorum come from the (deliberately empty) status; errors do not.
    const errors = text
      .split('\n')
      .filter(
        (l) =>
          /\berror:|Errors found|not valid\b(?! )|Relax-NG/.test(l) && !/may not be valid/.test(l),
      );
    if (!r.timedOut && (r.code === 0 || (r.code === 78 && errors.length === 0))) return undefined;
    return `crm_verify exit ${r.code}${r.timedOut ? ' (timed out)' : ''}:\n${errors.slice(0, 12).join('\n')}`;
  });
}
