import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ConfigurationError } from './errors';

/** Write a file atomically (temp + fsync + rename); refuse to replace an existing one unless `force`. */
export async function writeFileAtomicNew(
  file: string,
  data: Buffer | string,
  force: boolean,
): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  const handle = await open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    if (!force) {
      const exists = await open(file, 'r').then(
        async (h) => {
          await h.close();
          return true;
        },
        () => false,
      );
      if (exists) throw new ConfigurationError(`${file} exists; use --force to replace it`);
    }
    await rename(tmp, file);
  } finally {
    await rm(tmp, { force: true });
  }
}
