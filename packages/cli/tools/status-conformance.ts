/**
 * conformance:status — print `remora status` and `crm_mon -1 -r -f` (the
 * reference, Pacemaker 2.1.5 from Debian's pacemaker-cli-utils) for every
 * CIB of Pacemaker's scheduler regression suite in the shared folder, and
 * count how many are identical apart from the lines that differ by tool or
 * by moment (Stack, Current DC, Last updated, Last change).
 *
 * The shared folder is ../shared beside the repository, or $REMORA_SHARED;
 * the CIBs are in <shared>/pacemaker-scheduler/xml.
 *
 *   npm run conformance:status -- [--limit 300] [--diffs 5] [--shared DIR]
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { parseXml, readCib } from '@remora/cib';
import { buildStatusView, formatStatus } from '@remora/scheduler';

const run = promisify(execFile);

function stable(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => !/^ {2}\* (Stack|Current DC|Last updated|Last change):/.test(l));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      limit: { type: 'string' },
      diffs: { type: 'string', default: '0' },
      shared: { type: 'string' },
    },
  });
  const shared =
    values.shared ?? process.env.REMORA_SHARED ?? resolve(__dirname, '../../../../shared');
  const dir = join(shared, 'pacemaker-scheduler', 'xml');
  if (!existsSync(dir)) {
    console.error(`conformance:status: no CIBs in ${dir} (set REMORA_SHARED or --shared)`);
    process.exitCode = 66;
    return;
  }
  const files = (await readdir(dir)).filter((f) => f.endsWith('.xml')).sort();
  const chosen = values.limit ? files.slice(0, Number(values.limit)) : files;
  const showDiffs = Number(values.diffs);
  let same = 0;
  let failed = 0;
  let shown = 0;
  let remoraMs = 0;
  let crmMonMs = 0;
  const started = Date.now();
  for (const f of chosen) {
    const file = join(dir, f);
    let reference: string;
    let t = Date.now();
    try {
      reference = (
        await run('crm_mon', ['-1', '-r', '-f'], {
          env: { ...process.env, CIB_file: file, TZ: 'UTC' },
          timeout: 10_000,
        })
      ).stdout;
    } catch {
      failed++;
      continue;
    } finally {
      crmMonMs += Date.now() - t;
    }
    t = Date.now();
    let ours: string;
    try {
      ours = formatStatus(buildStatusView(readCib(parseXml(await readFile(file, 'utf8')))), {
        timeZone: 'UTC',
      });
    } catch (err) {
      ours = `error: ${(err as Error).message}\n`;
    }
    remoraMs += Date.now() - t;
    const a = stable(reference);
    const b = stable(ours);
    if (a.join('\n') === b.join('\n')) {
      same++;
      continue;
    }
    if (shown < showDiffs) {
      shown++;
      console.log(`== ${f}`);
      for (let i = 0; i < Math.max(a.length, b.length); i++)
        if (a[i] !== b[i]) console.log(`  crm_mon: ${a[i] ?? ''}\n  remora:  ${b[i] ?? ''}`);
    }
  }
  const compared = chosen.length - failed;
  console.log(
    `status conformance: ${same}/${compared} CIBs print as crm_mon -1 -r -f prints them (${((100 * same) / Math.max(1, compared)).toFixed(1)} %); ${failed} crm_mon could not read`,
  );
  console.log(
    `time: remora (in process) ${remoraMs} ms, crm_mon ${crmMonMs} ms (${(crmMonMs / Math.max(1, remoraMs)).toFixed(1)}x), total ${Date.now() - started} ms`,
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
