import { existsSync } from 'node:fs';
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
 * A CIB error from @remora/cib as the CLI reports it: not XML = DATAERR, a
 * CIB or store it refuses (structure, .sig, journal) = CONFIG, the message
 * naming the file.
 */
export async function cibErrorToCli(err: unknown, file: string): Promise<unknown> {
  const lib = await import('@remora/cib');
  if (err instanceof lib.XmlSyntaxError)
    return new CliError(err.message, ExitCode.DATAERR, { cause: err });
  if (err instanceof lib.CibError)
    return new CliError(
      err.message.includes(file) ? err.message : `${file}: ${err.message}`,
      ExitCode.CONFIG,
      {
        cause: err,
      },
    );
  return err;
}

/** The file is kept by remora's CIB store (a controller's cib.xml): it has a `.sig` or a `.journal` beside it. */
export function storeKept(file: string): boolean {
  return file !== '-' && (existsSync(`${file}.sig`) || existsSync(`${file}.journal`));
}

/**
 * A CIB file's text as remora's CIB store has it: for a file a controller
 * keeps, with the status updates its journal (`<file>.journal`) holds that
 * are not yet written into the file replayed on top — read-only, nothing is
 * written or compacted. Any other file as it is (`-` = stdin).
 */
export async function readCibFile(file: string): Promise<string> {
  const text = await readInput(file, 'CIB');
  if (file === '-' || !existsSync(`${file}.journal`)) return text;
  const lib = await import('@remora/cib');
  try {
    return (await lib.CibStore.read(file)).xml;
  } catch (err) {
    throw await cibErrorToCli(err, file);
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
  return { text: await readCibFile(file), source: file };
}
