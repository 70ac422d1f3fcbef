import { CibStructureError } from './errors';

/** Pacemaker's infinity for scores. */
export const INFINITY = 1_000_000;

/**
 * Parse a score as Pacemaker does: `INFINITY`, `+INFINITY`, `-INFINITY`, or
 * an integer clamped to ±INFINITY. `where` names the element for the error.
 */
export function parseScore(value: string, where = 'score'): number {
  const v = value.trim();
  if (/^\+?INFINITY$/i.test(v)) return INFINITY;
  if (/^-INFINITY$/i.test(v)) return -INFINITY;
  if (!/^[+-]?\d+$/.test(v))
    throw new CibStructureError(where, `'${value}' is not a score (an integer or [+-]INFINITY)`);
  const n = Number.parseInt(v, 10);
  return Math.max(-INFINITY, Math.min(INFINITY, n));
}

/** Add scores with Pacemaker's rules: -INFINITY wins over +INFINITY, results clamp to ±INFINITY. */
export function addScores(a: number, b: number): number {
  if (a <= -INFINITY || b <= -INFINITY) return -INFINITY;
  if (a >= INFINITY || b >= INFINITY) return INFINITY;
  return Math.max(-INFINITY, Math.min(INFINITY, a + b));
}

/** Format a score as Pacemaker prints it (`INFINITY`, `-INFINITY`, integers). */
export function formatScore(score: number): string {
  if (score >= INFINITY) return 'INFINITY';
  if (score <= -INFINITY) return '-INFINITY';
  return String(score);
}

const TRUE = new Set(['true', 'on', 'yes', 'y', '1']);
const FALSE = new Set(['false', 'off', 'no', 'n', '0']);

/** Pacemaker's boolean values (`crm_is_true`): true/on/yes/y/1 and false/off/no/n/0, any case. */
export function parseBoolean(value: string | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  const v = value.trim().toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  return fallback;
}

/** Whether a value is one of Pacemaker's boolean spellings. */
export function isBooleanValue(value: string): boolean {
  const v = value.trim().toLowerCase();
  return TRUE.has(v) || FALSE.has(v);
}
