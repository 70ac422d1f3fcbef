/**
 * Round trip through the CLI, checked by Pacemaker's own crm_diff: for each
 * CIB in a folder, `remora cib format -x IN.xml > OUT.xml`, then
 * `crm_diff -o IN.xml -n OUT.xml` must report no difference. Files that
 * crm_diff cannot compare even with themselves are skipped (and counted).
 *
 *   npm run round-trip --workspace @remora/cib [-- DIR]   (default: ../shared/pacemaker-scheduler/xml)
 * Prints `N passed, M failed`; exit status 1 when any failed.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const remora = resolve(__dirname, '../../../node_modules/.bin/remora');

/** crm_diff exit status: 0 = same, 1 = different, other = could not compare. */
async function crmDiff(a: string, b: string): Promise<number> {
  try {
    await execFileP('crm_diff', ['-o', a, '-n', b], { maxBuffer: 1 << 28 });
    return 0;
  } catch (err) {
    return (err as { code?: number }).code ?? 2;
  }
}

async function main(): Promise<void> {
  const dir = process.argv[2] ?? resolve(__dirname, '../../../../shared/pacemaker-scheduler/xml');
  const out = await mkdtemp(join(tmpdir(), 'remora-round-trip-'));
  const files = (await readdir(dir)).filter((f) => f.endsWith('.xml')).sort();
  let passed = 0;
  let skipped = 0;
  const failed: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const f = files[next++]!;
      const input = join(dir, f);
      if ((await crmDiff(input, input)) !== 0) {
        skipped++;
        continue;
      }
      const output = join(out, f);
      try {
        const { stdout } = await execFileP(remora, ['cib', 'format', '-x', input], {
          maxBuffer: 1 << 28,
        });
        await writeFile(output, stdout);
      } catch (err) {
        failed.push(
          `${f}: remora cib format failed: ${String((err as { stderr?: string }).stderr ?? err).trim()}`,
        );
        continue;
      }
      if ((await crmDiff(input, output)) === 0) passed++;
      else failed.push(`${f}: crm_diff reports differences`);
    }
  };
  try {
    await Promise.all([worker(), worker()]);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
  for (const line of failed) console.log(`FAIL ${line}`);
  console.log(`skipped ${skipped} that crm_diff cannot compare with themselves`);
  console.log(`${passed} passed, ${failed.length} failed`);
  if (failed.length > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
