/**
 * conformance:scheduler — run ../shared/bin/scheduler-conformance over
 * Pacemaker's regression inputs with `remora simulate`, print the per-tier
 * table and fail when a tier passes fewer inputs than its recorded floor
 * (packages/scheduler/conformance-floor.json). `--update` raises the floor to
 * the current figures (never lowers it).
 *
 *   npm run conformance:scheduler                   # check (what .ci/run does)
 *   npm run conformance:scheduler -- --update       # record progress
 *   npm run conformance:scheduler -- --cmd crm_simulate --tier primitive
 *
 * The shared folder is ../shared beside the repository, or $REMORA_SHARED.
 */
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { OptionSpec } from './args';
import { main, num, parseArgs, repoRoot, str, usage, userCwd } from './args';
import { checkCandidate, run, splitCommand } from './run';

export const FLOOR_FILE = join(repoRoot, 'packages', 'scheduler', 'conformance-floor.json');
const DEFAULT_CMD = 'node_modules/.bin/remora simulate';

const spec: OptionSpec = {
  cmd: { help: `scheduler command (default "${DEFAULT_CMD}", relative to the repository)` },
  tier: { help: 'comma-separated tiers to run (default: every tier in the floor file)' },
  update: { flag: true, help: 'raise the floor to the current pass counts (never lowers it)' },
  shared: { help: 'the shared folder (default $REMORA_SHARED or ../shared beside the repository)' },
  jobs: { help: 'parallel inputs (default: CPU count)' },
  timeout: { help: 'seconds per input (default 30)' },
  'show-fail': { help: 'failing inputs to list (default 10)' },
  help: { flag: true, help: 'this help' },
};

export type Floor = Record<string, number>;

/** Per-tier pass/fail counts from scheduler-conformance's output ("tier X: N passed, M failed"). */
export function parseTierTable(output: string): Map<string, { passed: number; failed: number }> {
  const out = new Map<string, { passed: number; failed: number }>();
  for (const m of output.matchAll(/^tier (\S+): (\d+) passed, (\d+) failed$/gm))
    out.set(m[1]!, { passed: Number(m[2]), failed: Number(m[3]) });
  return out;
}

export function readFloor(file = FLOOR_FILE): Floor {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read the conformance floor ${file}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new Error(`${file}: want an object {"tier": minimum passes, ...}`);
  const floor: Floor = {};
  for (const [k, v] of Object.entries(raw)) {
    if (k.startsWith('//')) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
      throw new Error(
        `${file}: tier "${k}" wants a non-negative integer, got ${JSON.stringify(v)}`,
      );
    floor[k] = v;
  }
  return floor;
}

/** Tiers whose pass count is below the floor, as messages. */
export function belowFloor(
  floor: Floor,
  table: ReadonlyMap<string, { passed: number; failed: number }>,
): string[] {
  const bad: string[] = [];
  for (const [tier, min] of Object.entries(floor)) {
    const got = table.get(tier);
    if (!got) {
      if (min > 0) bad.push(`tier ${tier}: no result (floor ${min})`);
    } else if (got.passed < min)
      bad.push(`tier ${tier}: ${got.passed} passed, below the floor of ${min}`);
  }
  return bad;
}

/** The floor raised to the current figures; tiers not run keep their floor. */
export function raisedFloor(
  floor: Floor,
  table: ReadonlyMap<string, { passed: number; failed: number }>,
): Floor {
  const out: Floor = { ...floor };
  for (const [tier, r] of table) out[tier] = Math.max(out[tier] ?? 0, r.passed);
  return out;
}

export function sharedDir(override?: string): string {
  return resolve(override ?? process.env['REMORA_SHARED'] ?? join(repoRoot, '..', 'shared'));
}

async function conformance(): Promise<number> {
  const p = parseArgs(process.argv.slice(2), spec);
  if (p.has('help')) {
    console.log(usage('usage: npm run conformance:scheduler -- [options]', spec));
    return 0;
  }
  const floor = readFloor();
  const shared = sharedDir(p.has('shared') ? resolve(userCwd(), str(p, 'shared', '')) : undefined);
  const runner = join(shared, 'bin', 'scheduler-conformance');
  if (!existsSync(runner))
    throw new Error(
      `${runner} not found: put the shared folder beside the repository (../shared) or set REMORA_SHARED`,
    );
  const tiers = p.has('tier') ? str(p, 'tier', '').split(',').filter(Boolean) : Object.keys(floor);
  const cmd = p.has('cmd') ? splitCommand(str(p, 'cmd', '')) : splitCommand(DEFAULT_CMD);
  if (cmd[0]!.includes('/') && !cmd[0]!.startsWith('/'))
    cmd[0] = resolve(p.has('cmd') ? userCwd() : repoRoot, cmd[0]!);
  const floorName = relative(repoRoot, FLOOR_FILE);

  const problem = await checkCandidate(cmd);
  if (problem) {
    console.error(`conformance:scheduler: ${problem}`);
    const guarded = Object.entries(floor).filter(([t, v]) => tiers.includes(t) && v > 0);
    if (guarded.length === 0 && !p.has('update')) {
      console.error(
        `conformance:scheduler: every floor in ${floorName} is 0, so nothing regressed; not failing`,
      );
      return 0;
    }
    return 1;
  }

  const t0 = performance.now();
  const r = await run(
    [
      'python3',
      runner,
      '--tier',
      tiers.join(','),
      '--jobs',
      String(num(p, 'jobs', cpus().length)),
      '--timeout',
      String(num(p, 'timeout', 30)),
      '--show-fail',
      String(num(p, 'show-fail', 10)),
      '--',
      ...cmd,
    ],
    { cwd: repoRoot },
  );
  if (r.code !== 0) {
    throw new Error(
      `scheduler-conformance exited ${r.code ?? r.signal}: ${(r.stderr || r.stdout).trim().split('\n').slice(-5).join('\n')}`,
    );
  }
  const table = parseTierTable(r.stdout);
  for (const line of r.stdout.split('\n'))
    if (line.startsWith('FAIL') || line.startsWith('...')) console.log(line);
  console.log(
    `\n${'tier'.padEnd(14)} ${'passed'.padStart(7)} ${'of'.padStart(5)} ${'%'.padStart(6)} ${'floor'.padStart(6)}`,
  );
  for (const tier of tiers) {
    const got = table.get(tier);
    if (!got) {
      console.log(`${tier.padEnd(14)} ${'-'.padStart(7)}`);
      continue;
    }
    const total = got.passed + got.failed;
    const pct = total ? ((100 * got.passed) / total).toFixed(1) : '-';
    const f = floor[tier] ?? 0;
    const mark = got.passed < f ? '  BELOW FLOOR' : got.passed > f ? `  (+${got.passed - f})` : '';
    console.log(
      `${tier.padEnd(14)} ${String(got.passed).padStart(7)} ${String(total).padStart(5)} ${pct.padStart(6)} ${String(f).padStart(6)}${mark}`,
    );
  }
  console.log(`(${((performance.now() - t0) / 1000).toFixed(1)} s, ${cmd.join(' ')})`);
  if (p.has('update')) {
    // Keep the file's other keys (comments) and order; only numbers move up.
    const raw = JSON.parse(readFileSync(FLOOR_FILE, 'utf8')) as Record<string, unknown>;
    Object.assign(raw, raisedFloor(floor, table));
    await writeFile(FLOOR_FILE, JSON.stringify(raw, null, 2) + '\n');
    console.log(`floor updated in ${floorName}`);
    return 0;
  }
  const bad = belowFloor(
    Object.fromEntries(Object.entries(floor).filter(([t]) => tiers.includes(t))),
    table,
  );
  if (bad.length) {
    for (const b of bad) console.error(`conformance:scheduler: ${b}`);
    return 1;
  }
  const raised = [...table].filter(([t, v]) => v.passed > (floor[t] ?? 0));
  if (raised.length)
    console.log(
      `above the floor on ${raised.map(([t]) => t).join(', ')}: run with --update to record it`,
    );
  return 0;
}

if (require.main === module) main(conformance);
