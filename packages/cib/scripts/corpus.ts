/**
 * Check @remora/cib against Pacemaker's scheduler regression corpus (read at
 * run time from ../shared/pacemaker-scheduler, never copied into the repo):
 * every CIB must parse, serialize back byte for byte, read into the model,
 * and verifyCib's verdict (errors or not) must agree with `crm_verify -V`.
 *
 *   npm run corpus --workspace @remora/cib [-- --corpus DIR] [--no-crm-verify]
 * Exit status 1 if any file fails to round-trip or read.
 */
import { execFile } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parseXml, readCib, serializeXml } from '../src';
import { verifyCib } from '../src/verify';

const execFileP = promisify(execFile);

async function crmVerifyFindsErrors(file: string): Promise<boolean> {
  try {
    await execFileP('crm_verify', ['-V', '-x', file]);
    return false;
  } catch (err) {
    return /Errors found/.test(String((err as { stderr?: string }).stderr));
  }
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--corpus');
  const dir =
    i >= 0
      ? process.argv[i + 1]!
      : resolve(__dirname, '../../../../shared/pacemaker-scheduler/xml');
  const withCrmVerify = !process.argv.includes('--no-crm-verify');
  const files = (await readdir(dir)).filter((f) => f.endsWith('.xml')).sort();
  let identical = 0;
  let read = 0;
  let agree = 0;
  let parseMs = 0;
  const failures: string[] = [];
  const disagreements: string[] = [];
  for (const f of files) {
    const path = join(dir, f);
    const text = await readFile(path, 'utf8');
    try {
      const t = performance.now();
      const doc = parseXml(text, { source: f });
      parseMs += performance.now() - t;
      if (serializeXml(doc) === text) identical++;
      else failures.push(`${f}: round trip differs`);
      readCib(doc);
      read++;
      if (withCrmVerify) {
        const ours = !verifyCib(doc, f).valid;
        const theirs = await crmVerifyFindsErrors(path);
        if (ours === theirs) agree++;
        else
          disagreements.push(
            `${f}: remora ${ours ? 'finds errors' : 'finds none'}, crm_verify ${theirs ? 'finds errors' : 'finds none'}`,
          );
      }
    } catch (err) {
      failures.push(`${f}: ${(err as Error).message}`);
    }
  }
  console.log(`${files.length} CIBs from ${dir}`);
  console.log(
    `  byte-identical round trips: ${identical}/${files.length} (parse total ${parseMs.toFixed(0)} ms)`,
  );
  console.log(`  read into the typed model:  ${read}/${files.length}`);
  if (withCrmVerify)
    console.log(`  verify agrees with crm_verify on errors: ${agree}/${files.length}`);
  for (const line of [...failures, ...disagreements]) console.log(`  ${line}`);
  if (failures.length > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
