/**
 * Comparing two crm_simulate-style outputs the way the conformance runner
 * (../shared/bin/scheduler-conformance) does: the multiset of "Transition
 * Summary:" lines, white space folded, and the multiset of executed
 * "Resource action", "Fencing" and "Cluster action" lines (order and pseudo
 * actions ignored).
 */

function section(text: string, start: string, stops: readonly string[]): string[] {
  const out: string[] = [];
  let on = false;
  for (const line of text.split('\n')) {
    if (line.startsWith(start)) {
      on = true;
      continue;
    }
    if (on && stops.some((s) => line.startsWith(s))) break;
    if (on) out.push(line);
  }
  return out;
}

/** Fold white space and the padding inside parentheses. */
export function normalizeLine(line: string): string {
  return line.trim().replace(/\s+/g, ' ').replace(/\(\s*/g, '(').replace(/\s*\)/g, ')');
}

/** The Transition Summary lines, normalized and sorted. */
export function summaryLines(text: string): string[] {
  return section(text, 'Transition Summary:', [
    'Executing Cluster Transition:',
    'Revised Cluster Status:',
  ])
    .filter((l) => l.trim() !== '')
    .map(normalizeLine)
    .sort();
}

/** The executed Resource action / Fencing / Cluster action lines, normalized and sorted. */
export function actionLines(text: string): string[] {
  return section(text, 'Executing Cluster Transition:', ['Revised Cluster Status:'])
    .filter((l) => /^\s*\* (Resource action|Fencing|Cluster action)/.test(l))
    .map(normalizeLine)
    .sort();
}

export function hasSummary(text: string): boolean {
  return text.split('\n').some((l) => l.startsWith('Transition Summary:'));
}

/** Lines only in a and only in b (multiset difference, each sorted). */
export function multisetDiff(
  a: readonly string[],
  b: readonly string[],
): { onlyA: string[]; onlyB: string[] } {
  const count = new Map<string, number>();
  for (const l of a) count.set(l, (count.get(l) ?? 0) + 1);
  const onlyB: string[] = [];
  for (const l of b) {
    const n = count.get(l) ?? 0;
    if (n > 0) count.set(l, n - 1);
    else onlyB.push(l);
  }
  const onlyA: string[] = [];
  for (const [l, n] of count) for (let i = 0; i < n; i++) onlyA.push(l);
  return { onlyA: onlyA.sort(), onlyB: onlyB.sort() };
}

export interface Comparison {
  readonly agree: boolean;
  /** Why not, in one line (empty when they agree). */
  readonly reason: string;
  /** Human-readable diff: `- ` reference-only lines, `+ ` candidate-only lines, per section. */
  readonly diff: string;
}

/**
 * Compare reference and candidate outputs. `summaryOnly` compares the
 * Transition Summary alone.
 */
export function compareOutputs(
  reference: string,
  candidate: string,
  summaryOnly = false,
): Comparison {
  if (!hasSummary(candidate))
    return { agree: false, reason: 'no "Transition Summary:" in candidate output', diff: '' };
  const parts: string[] = [];
  const s = multisetDiff(summaryLines(reference), summaryLines(candidate));
  if (s.onlyA.length || s.onlyB.length)
    parts.push(
      'Transition Summary:\n' +
        [...s.onlyA.map((l) => `- ${l}`), ...s.onlyB.map((l) => `+ ${l}`)].join('\n'),
    );
  if (!summaryOnly) {
    const a = multisetDiff(actionLines(reference), actionLines(candidate));
    if (a.onlyA.length || a.onlyB.length)
      parts.push(
        'Executed actions:\n' +
          [...a.onlyA.map((l) => `- ${l}`), ...a.onlyB.map((l) => `+ ${l}`)].join('\n'),
      );
  }
  if (parts.length === 0) return { agree: true, reason: '', diff: '' };
  const reason = parts[0]!.startsWith('Transition')
    ? 'transition summary differs'
    : 'executed actions differ';
  return { agree: false, reason, diff: parts.join('\n') + '\n' };
}
