/**
 * Pacemaker's time specifications (`20s`, `1min`, `500ms`, `90`, `2h`) as
 * milliseconds. A bare number is seconds, as in the CIB and meta-data.
 */
const UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  msec: 1,
  us: 0.001,
  usec: 0.001,
  '': 1000,
  s: 1000,
  sec: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
};

const SPEC = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i;

/**
 * Parse a duration to whole milliseconds; `undefined` when it is not one
 * (e.g. `20 parsecs`, `-1`). ISO 8601 `PT…` durations are accepted too.
 */
export function parseDuration(spec: string): number | undefined {
  const m = SPEC.exec(spec);
  if (m) {
    const factor = UNITS[m[2].toLowerCase()];
    if (factor === undefined) return undefined;
    return Math.round(Number(m[1]) * factor);
  }
  return parseIsoDuration(spec.trim());
}

const ISO = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i;

function parseIsoDuration(spec: string): number | undefined {
  const m = ISO.exec(spec);
  if (!m || spec === 'P' || /T$/i.test(spec)) return undefined;
  const [, d, h, min, s] = m;
  return Math.round(
    Number(d ?? 0) * 86_400_000 +
      Number(h ?? 0) * 3_600_000 +
      Number(min ?? 0) * 60_000 +
      Number(s ?? 0) * 1000,
  );
}
