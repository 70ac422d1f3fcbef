import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { DiscoveryError } from '../errors';

/** Sorted names of the executable regular files in a directory (hidden files skipped). */
export async function listExecutables(dir: string, scope: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw new DiscoveryError(scope, `cannot read ${dir}`, { cause: err });
  }
  const checked = await Promise.all(
    names
      .filter((n) => !n.startsWith('.'))
      .map(async (n) => {
        try {
          const st = await stat(path.join(dir, n));
          return st.isFile() && (st.mode & 0o111) !== 0 ? n : undefined;
        } catch {
          return undefined;
        }
      }),
  );
  return checked.filter((n): n is string => n !== undefined).sort();
}
