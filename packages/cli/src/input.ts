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
