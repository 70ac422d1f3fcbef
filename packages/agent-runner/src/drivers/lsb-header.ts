/** The `### BEGIN INIT INFO` block of an LSB init script (LSB 3.1, 20.3). */
export interface LsbInitInfo {
  /** Keyword to value, in file order (`Provides`, `Short-Description`, ...). */
  readonly fields: ReadonlyArray<[string, string]>;
  readonly provides: string;
  readonly shortDescription: string;
  readonly description: string;
}

const BEGIN = '### BEGIN INIT INFO';
const END = '### END INIT INFO';

/** Parse the INIT INFO block; `undefined` when the script has none. */
export function parseLsbInitInfo(script: string): LsbInitInfo | undefined {
  const begin = script.indexOf(BEGIN);
  if (begin < 0) return undefined;
  const end = script.indexOf(END, begin);
  if (end < 0) return undefined;
  const fields: Array<[string, string]> = [];
  for (const raw of script.slice(begin + BEGIN.length, end).split('\n')) {
    if (!raw.startsWith('#')) continue;
    const keyword = /^#\s?([A-Za-z][A-Za-z0-9-]*):\s*(.*)$/.exec(raw);
    if (keyword && !/^#\s{2,}|^#\t/.test(raw)) {
      fields.push([keyword[1], keyword[2].trim()]);
    } else if (fields.length > 0 && /^#(\t|\s{2,})/.test(raw)) {
      // Continuation of a multi-line Description.
      const last = fields[fields.length - 1];
      last[1] = `${last[1]} ${raw.slice(1).trim()}`.trim();
    }
  }
  const get = (k: string): string => fields.find(([key]) => key === k)?.[1] ?? '';
  return {
    fields,
    provides: get('Provides'),
    shortDescription: get('Short-Description'),
    description: get('Description'),
  };
}
