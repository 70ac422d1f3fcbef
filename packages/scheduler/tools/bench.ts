/**
 * bench:scheduler — remora simulate next to crm_simulate on the reference
 * deployment CIBs (../shared/bin/gen-deployment-cib C G S, or the in-repo
 * equivalent), same file, same run: wall time, CPU time (user + system) and
 * peak memory (max RSS), both from /usr/bin/time, speed-up and whether the
 * Transition Summaries are identical. CPU time says what the run cost when
 * the machine is shared (wall time then counts the waits for a core).
 *
 *   npm run bench:scheduler
 *   npm run bench:scheduler -- --sizes 16/64/64,16/128/128 --ref-timeout 60
 *   npm run bench:scheduler -- --cmd crm_simulate --sizes 16/64/64   # the oracle against itself
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OptionSpec } from './args';
import { UsageError, main, num, parseArgs, repoRoot, str, usage, userCwd, userPath } from './args';
import { hasSummary, multisetDiff, summaryLines } from './compare';
import { sharedDir } from './conformance';
import { deploymentCib } from './deployment-cib';
import { checkCandidate, findExecutable, run, splitCommand } from './run';

const DEFAULT_CMD = 'node_modules/.bin/remora simulate';
const DEFAULT_SIZES = '16/64/64,16/128/128,16/256/256,16/1000/1000,16/10000/10000';
const TIME = '/usr/bin/time';

const spec: OptionSpec = {
  sizes: { help: `comma-separated CLUSTER/GUESTS/SERVICES sizes (default ${DEFAULT_SIZES})` },
  cmd: { help: `candidate command (default "${DEFAULT_CMD}", relative to the repository)` },
  reference: { help: 'reference command (default "crm_simulate")' },
  'ref-timeout': {
    help: 'seconds crm_simulate may take per size; beyond it (and at every larger size) it is skipped (default 60)',
  },
  timeout: { help: 'seconds the candidate may take per size (default 300)' },
  'ref-args': {
    help: 'arguments after "-x CIB" for the reference (default "-R": compute and print the transition; "-S" also simulates executing it, ~50x slower)',
  },
  'cand-args': { help: 'arguments after "-x CIB" for the candidate (default "-S")' },
  'no-reference': { flag: true, help: 'do not run crm_simulate at all' },
  remote: { flag: true, help: 'guests are remote nodes (gen-deployment-cib --remote)' },
  groups: { flag: true, help: 'services are web+db groups (gen-deployment-cib --groups)' },
  keep: { help: 'keep the generated CIBs and outputs in this folder' },
  json: { flag: true, help: 'also print one JSON object per size' },
  help: { flag: true, help: 'this help' },
};

interface Size {
  readonly c: number;
  readonly g: number;
  readonly s: number;
}

function parseSizes(spec: string): Size[] {
  return spec.split(',').map((t) => {
    const m = /^(\d+)\/(\d+)\/(\d+)$/.exec(t.trim());
    if (!m) throw new UsageError(`--sizes: "${t}" is not CLUSTER/GUESTS/SERVICES (e.g. 16/64/64)`);
    const z = { c: Number(m[1]), g: Number(m[2]), s: Number(m[3]) };
    if (z.c < 1 || z.g < 1)
      throw new UsageError(`--sizes: "${t}" needs at least one cluster node and one guest`);
    return z;
  });
}

interface Measured {
  readonly status: 'ok' | 'timeout' | 'failed' | 'skipped';
  readonly seconds?: number;
  /** User + system CPU seconds. */
  readonly cpuSeconds?: number;
  readonly peakMB?: number;
  readonly output?: string;
  readonly note?: string;
}

/** Run a scheduler on a CIB under /usr/bin/time: wall time, CPU time and max RSS. */
async function measure(
  argv: readonly string[],
  cib: string,
  extra: readonly string[],
  timeoutMs: number,
  dir: string,
  tag: string,
): Promise<Measured> {
  const rss = join(dir, `${tag}.rss`);
  const r = await run([TIME, '-f', '%M %U %S', '-o', rss, ...argv, '-x', cib, ...extra], {
    timeoutMs,
    cwd: userCwd(),
  });
  if (r.timedOut) return { status: 'timeout', note: `> ${timeoutMs / 1000}s` };
  // the last line is "maxrss user system" (a failed command has a status line before it)
  const [kb, user, sys] = existsSync(rss)
    ? (readFileSync(rss, 'utf8').trim().split('\n').pop() ?? '').split(' ').map(Number)
    : [];
  const cpu = (user ?? NaN) + (sys ?? NaN);
  const base = {
    seconds: r.ms / 1000,
    ...(kb !== undefined && Number.isFinite(kb) ? { peakMB: kb / 1024 } : {}),
    ...(Number.isFinite(cpu) ? { cpuSeconds: cpu } : {}),
    output: r.stdout,
  };
  if (!hasSummary(r.stdout)) {
    const said = (
      r.stderr
        .replace(/Command exited with non-zero status \d+\n?/, '')
        .trim()
        .split('\n')[0] ?? ''
    ).slice(0, 120);
    return { ...base, status: 'failed', note: `exit ${r.code}: ${said}` };
  }
  return { ...base, status: 'ok' };
}

function splitArgs(line: string): string[] {
  return line.trim() === '' ? [] : splitCommand(line);
}

function fmtTime(m: Measured): string {
  if (m.status === 'ok')
    return m.seconds! < 10 ? `${m.seconds!.toFixed(2)} s` : `${m.seconds!.toFixed(1)} s`;
  return m.note ?? m.status;
}

function fmtCpu(m: Measured): string {
  if (m.status !== 'ok' || m.cpuSeconds === undefined) return '';
  return m.cpuSeconds < 10 ? `${m.cpuSeconds.toFixed(2)} s` : `${m.cpuSeconds.toFixed(1)} s`;
}

function fmtMem(m: Measured): string {
  return m.status === 'ok' && m.peakMB !== undefined ? `${m.peakMB.toFixed(0)} MB` : '';
}

async function bench(): Promise<number> {
  const p = parseArgs(process.argv.slice(2), spec);
  if (p.has('help')) {
    console.log(usage('usage: npm run bench:scheduler -- [options]', spec));
    return 0;
  }
  if (!existsSync(TIME))
    throw new Error(
      `${TIME} not found: install the Debian package "time" (it is in scripts/apt-packages.txt)`,
    );
  const sizes = parseSizes(str(p, 'sizes', DEFAULT_SIZES));
  const refTimeout = num(p, 'ref-timeout', 60);
  const candTimeout = num(p, 'timeout', 300);
  const cwd = userCwd();
  const candidate = splitCommand(str(p, 'cmd', DEFAULT_CMD));
  if (candidate[0]!.includes('/') && !candidate[0]!.startsWith('/'))
    candidate[0] = join(p.has('cmd') ? cwd : repoRoot, candidate[0]!);
  const reference = splitCommand(str(p, 'reference', 'crm_simulate'));
  const useRef = !p.has('no-reference');
  const refArgs = splitArgs(str(p, 'ref-args', '-R'));
  const candArgs = splitArgs(str(p, 'cand-args', '-S'));
  if (useRef && !findExecutable(reference[0]!))
    throw new Error(
      `reference command not found: ${reference[0]} (install pacemaker-cli-utils, or pass --no-reference)`,
    );
  const problem = await checkCandidate(candidate, cwd);
  if (problem)
    console.log(
      `note: ${problem}\n      (its column shows the failure; the reference is still measured)`,
    );
  const gen = join(sharedDir(), 'bin', 'gen-deployment-cib');
  const useShared = existsSync(gen);
  const flags = [
    ...(p.has('remote') ? ['--remote'] : []),
    ...(p.has('groups') ? ['--groups'] : []),
  ];
  const keep = p.has('keep') ? userPath(str(p, 'keep', '')) : undefined;
  const dir = keep ?? (await mkdtemp(join(tmpdir(), 'remora-bench-scheduler-')));
  await mkdir(dir, { recursive: true });
  const candName = p.has('cmd') ? candidate.join(' ') : 'remora simulate';
  console.log(
    `bench:scheduler — ${[candName, '-x CIB', ...candArgs].join(' ')} vs ${[...reference, '-x CIB', ...refArgs].join(' ')}; CIBs from ${useShared ? gen : 'the in-repo deployment generator'}${flags.length ? ` ${flags.join(' ')}` : ''}`,
  );
  const head = `${'size C/G/S'.padEnd(16)}${'candidate'.padStart(12)}${'cpu'.padStart(9)}${'peak'.padStart(9)}  ${'crm_simulate'.padStart(22)}${'cpu'.padStart(9)}${'peak'.padStart(9)}${'speed-up'.padStart(10)}  summaries`;
  console.log(head);
  let refTooSlow: number | undefined;
  let differ = 0;
  try {
    for (const z of sizes) {
      const label = `${z.c}/${z.g}/${z.s}`;
      const cib = join(dir, `cib-${z.c}-${z.g}-${z.s}.xml`);
      if (useShared) {
        const r = await run(['python3', gen, String(z.c), String(z.g), String(z.s), ...flags]);
        if (r.code !== 0) throw new Error(`gen-deployment-cib ${label} failed: ${r.stderr.trim()}`);
        await writeFile(cib, r.stdout);
      } else
        await writeFile(
          cib,
          deploymentCib(z.c, z.g, z.s, { remote: p.has('remote'), groups: p.has('groups') }),
        );
      const cand = await measure(
        candidate,
        cib,
        candArgs,
        candTimeout * 1000,
        dir,
        `cand-${label.replace(/\//g, '-')}`,
      );
      let ref: Measured;
      if (!useRef) ref = { status: 'skipped', note: 'not run' };
      else if (refTooSlow !== undefined)
        ref = { status: 'skipped', note: `skipped (reference > ${refTimeout}s)` };
      else {
        ref = await measure(
          reference,
          cib,
          refArgs,
          refTimeout * 1000,
          dir,
          `ref-${label.replace(/\//g, '-')}`,
        );
        if (ref.status === 'timeout') {
          refTooSlow = z.s;
          ref = { status: 'skipped', note: `skipped (reference > ${refTimeout}s)` };
        }
      }
      let same = 'n/a';
      if (cand.status === 'ok' && ref.status === 'ok') {
        const d = multisetDiff(summaryLines(ref.output!), summaryLines(cand.output!));
        const n = summaryLines(ref.output!).length;
        same =
          d.onlyA.length + d.onlyB.length === 0
            ? `identical (${n} lines)`
            : `DIFFER (-${d.onlyA.length} +${d.onlyB.length} of ${n})`;
        if (!same.startsWith('identical')) differ++;
      }
      const ratio =
        cand.status === 'ok' && ref.status === 'ok'
          ? `${(ref.seconds! / cand.seconds!).toFixed(1)}×`
          : '';
      if (keep) {
        if (cand.output !== undefined)
          await writeFile(join(dir, `candidate-${label.replace(/\//g, '-')}.out`), cand.output);
        if (ref.output !== undefined)
          await writeFile(join(dir, `reference-${label.replace(/\//g, '-')}.out`), ref.output);
      }
      const candCell = cand.status === 'failed' ? 'failed' : fmtTime(cand);
      console.log(
        `${label.padEnd(16)}${candCell.padStart(12)}${fmtCpu(cand).padStart(9)}${fmtMem(cand).padStart(9)}  ${fmtTime(ref).padStart(22)}${fmtCpu(ref).padStart(9)}${fmtMem(ref).padStart(9)}${ratio.padStart(10)}  ${same}`,
      );
      if (cand.status === 'failed') console.log(`${''.padEnd(16)}candidate ${cand.note}`);
      if (ref.status === 'failed') console.log(`${''.padEnd(16)}reference ${ref.note}`);
      if (p.has('json'))
        console.log(
          JSON.stringify({
            size: label,
            candidate: {
              status: cand.status,
              seconds: cand.seconds,
              cpuSeconds: cand.cpuSeconds,
              peakMB: cand.peakMB,
            },
            reference: {
              status: ref.status,
              seconds: ref.seconds,
              cpuSeconds: ref.cpuSeconds,
              peakMB: ref.peakMB,
              note: ref.note,
            },
            summaries: same,
          }),
        );
    }
  } finally {
    if (!keep) await rm(dir, { recursive: true, force: true });
  }
  if (keep) console.log(`CIBs and outputs kept in ${dir}`);
  return differ > 0 ? 1 : 0;
}

if (require.main === module) main(bench);
