import { readFile } from 'node:fs/promises';
import { CliError } from './errors';
import { ExitCode } from './exit-codes';

/** Read all of stdin as text. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Read an input file (`-` = stdin), turning a missing or unreadable file into a clear NOINPUT error. */
export async function readInput(file: string, what = 'input'): Promise<string> {
  if (file === '-') return readStdin();
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a directory'
            : String(code);
    throw new CliError(`cannot read ${what} '${file}': ${why}`, ExitCode.NOINPUT, { cause: err });
  }
}

/**
 * The CIB file to act on, as Pacemaker's tools find it: an explicit option,
 * else the `CIB_file` environment variable. Undefined means "the live cluster".
 */
export function cibFileFrom(option: string | undefined): string | undefined {
  return option ?? (process.env.CIB_file || undefined);
}

/** The `-x FILE` / `-X TEXT` / `-p` options of commands that read a CIB, as Pacemaker's tools take them. */
export interface CibInputOptions {
  readonly xmlFile?: string;
  readonly xmlText?: string;
  readonly xmlPipe?: boolean;
}

/**
 * The CIB text those options name and where it came from (for messages):
 * `-X` text, `-p` stdin, else `-x`/`CIB_file`; none of them is a usage error
 * (`hint` is appended to its message).
 */
export async function readCibInput(
  options: CibInputOptions,
  hint = '',
): Promise<{ text: string; source: string }> {
  if (options.xmlText !== undefined) return { text: options.xmlText, source: 'xml-text' };
  if (options.xmlPipe) return { text: await readInput('-'), source: 'stdin' };
  const file = cibFileFrom(options.xmlFile);
  if (file === undefined)
    throw new CliError(
      `no CIB given: use -x FILE, -X TEXT, -p, or set CIB_file${hint}`,
      ExitCode.USAGE,
    );
  return { text: await readInput(file, 'CIB'), source: file };
}
