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

/**
 * ISO 8601 durations as Pacemaker accepts them: `PnYnMnWnDTnHnMnS`, and also
 * hours and seconds without the `T` (`P10S`), which are unambiguous. Months
 * count 30 days and years 365, as for intervals nobody expects calendar math.
 */
const ISO =
  /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:(\d+)H)?(?:(\d+(?:\.\d+)?)S)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i;

function parseIsoDuration(spec: string): number | undefined {
  const m = ISO.exec(spec);
  if (!m || spec.length === 1 || /T$/i.test(spec)) return undefined;
  const [, y, mo, w, d, h0, s0, h, min, s] = m;
  const n = (v: string | undefined): number => Number(v ?? 0);
  return Math.round(
    (n(y) * 365 + n(mo) * 30 + n(w) * 7 + n(d)) * 86_400_000 +
      (n(h0) + n(h)) * 3_600_000 +
      n(min) * 60_000 +
      (n(s0) + n(s)) * 1000,
  );
}
