/**
 * A tiny command-line parser for the scheduler tools: `--name value`,
 * `--name=value` and boolean `--flag`; unknown options are errors naming the
 * option and listing the known ones.
 */
import { isAbsolute, resolve } from 'node:path';

export interface OptionSpec {
  readonly [name: string]: { readonly flag?: boolean; readonly help: string };
}

export type Parsed = Map<string, string | true>;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function parseArgs(argv: readonly string[], spec: OptionSpec): Parsed {
  const out: Parsed = new Map();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') continue;
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument "${a}"`);
    const eq = a.indexOf('=');
    const name = a.slice(2, eq >= 0 ? eq : undefined);
    const opt = spec[name];
    if (!opt)
      throw new UsageError(
        `unknown option --${name}; known options: ${Object.keys(spec)
          .map((k) => `--${k}`)
          .join(', ')}`,
      );
    if (opt.flag) {
      if (eq >= 0) throw new UsageError(`option --${name} takes no value`);
      out.set(name, true);
    } else if (eq >= 0) out.set(name, a.slice(eq + 1));
    else {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`option --${name} needs a value`);
      out.set(name, v);
    }
  }
  return out;
}

export function usage(title: string, spec: OptionSpec): string {
  const width = Math.max(...Object.keys(spec).map((k) => k.length)) + 4;
  return (
    `${title}\n\noptions:\n` +
    Object.entries(spec)
      .map(([k, v]) => `  ${`--${k}${v.flag ? '' : ' X'}`.padEnd(width + 2)} ${v.help}`)
      .join('\n')
  );
}

export function str(p: Parsed, name: string, dflt: string): string {
  const v = p.get(name);
  return typeof v === 'string' ? v : dflt;
}

export function num(p: Parsed, name: string, dflt: number): number {
  const v = p.get(name);
  if (typeof v !== 'string') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0)
    throw new UsageError(`--${name} wants a non-negative number, got "${v}"`);
  return n;
}

/** The directory the user ran the command from (npm sets INIT_CWD; scripts run in the package). */
export function userCwd(): string {
  return process.env['INIT_CWD'] ?? process.cwd();
}

/** A path the user gave, resolved against the directory they ran the command from. */
export function userPath(p: string): string {
  return isAbsolute(p) ? p : resolve(userCwd(), p);
}

/** The repository root (tools live in packages/scheduler/tools). */
export const repoRoot = resolve(__dirname, '..', '..', '..');

/** Run a tool's main, printing UsageError and other errors as one clear line. */
export function main(fn: () => Promise<number>): void {
  fn().then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(e instanceof UsageError ? 64 : 1);
    },
  );
}
