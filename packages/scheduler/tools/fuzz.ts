/**
 * fuzz:scheduler — differential fuzzing of a crm_simulate-like command
 * against crm_simulate on random, valid, seeded CIBs; differing cases are
 * shrunk (delta debugging) and saved with their diff.
 *
 *   npm run fuzz:scheduler -- --count 500 --seed 7 --features primitive,group,remote
 *   npm run fuzz:scheduler -- --cmd crm_simulate            # the oracle against itself
 *   npm run fuzz:scheduler -- --ci                          # what .ci/run does
 */
import { readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { OptionSpec } from './args';
import { UsageError, main, num, parseArgs, repoRoot, str, usage, userCwd, userPath } from './args';
import type { FuzzCib } from './cib-model';
import { renderCib, units } from './cib-model';
import { summaryLines } from './compare';
import type { Outcome } from './differential';
import { differential, verifyConfiguration } from './differential';
import type { Feature } from './generate';
import { AllFeatures, Features, generateCib, parseFeatures } from './generate';
import { caseSeed } from './rng';
import { checkCandidate, findExecutable, mapPool, splitCommand } from './run';
import { shrinkCib } from './shrink';

const DEFAULT_CMD = 'node_modules/.bin/remora simulate';
const CI_CONFIG = join(repoRoot, 'packages', 'scheduler', 'fuzz-ci.json');

const spec: OptionSpec = {
  count: { help: 'number of random CIBs (default 200)' },
  seed: { help: 'run seed (default: time-based, printed); case i uses a seed derived from it' },
  cmd: { help: `candidate command (default "${DEFAULT_CMD}", relative to the repository)` },
  reference: { help: 'reference command (default "crm_simulate")' },
  features: {
    help: `comma-separated features to generate (default all; "all,-clone" removes one): ${AllFeatures.join(', ')}`,
  },
  'max-resources': { help: 'upper bound on top-level resources per CIB (default 6)' },
  'max-nodes': { help: 'upper bound on cluster nodes per CIB (default 4)' },
  jobs: { help: 'parallel cases (default: CPU count)' },
  timeout: { help: 'seconds per command run (default 30)' },
  out: { help: 'folder for differing cases (default $TMPDIR/remora-fuzz-failures)' },
  'shrink-max': { help: 'differing cases to shrink (default 5; 0 = none)' },
  'shrink-tests': { help: 'predicate runs per shrink (default 300)' },
  'time-budget': {
    help: 'seconds after which no new case starts (default none; --ci: 90); the rest count as not run',
  },
  'summary-only': { flag: true, help: 'compare the Transition Summary only, not executed actions' },
  'no-verify': { flag: true, help: 'skip crm_verify on generated configurations' },
  case: { help: 'run only this case seed (as printed for a differing case)' },
  emit: { help: 'write the generated CIBs to this folder and exit (no comparison)' },
  ci: {
    flag: true,
    help: `CI mode: settings from packages/scheduler/fuzz-ci.json; skipped (exit 0) when crm_simulate is missing or no feature is enabled there`,
  },
  'list-features': { flag: true, help: 'list the features and exit' },
  help: { flag: true, help: 'this help' },
};

interface CiConfig {
  readonly features: readonly string[];
  readonly count: number;
  readonly seed: number;
}

function readCiConfig(): CiConfig {
  const raw = JSON.parse(readFileSync(CI_CONFIG, 'utf8')) as Partial<CiConfig>;
  if (!Array.isArray(raw.features) || typeof raw.count !== 'number' || typeof raw.seed !== 'number')
    throw new Error(`${CI_CONFIG}: want {"features": [..], "count": N, "seed": N}`);
  return raw as CiConfig;
}

function resolveCommand(line: string, base: string): string[] {
  const argv = splitCommand(line);
  if (argv[0]!.includes('/') && !argv[0]!.startsWith('/')) argv[0] = join(base, argv[0]!);
  return argv;
}

async function saveCase(
  dir: string,
  seed: number,
  original: FuzzCib,
  shrunk: FuzzCib | undefined,
  outcome: Extract<Outcome, { status: 'differ' }>,
  repro: string,
): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'original.xml'), renderCib(original));
  if (shrunk) await writeFile(join(dir, 'shrunk.xml'), renderCib(shrunk));
  await writeFile(join(dir, 'reference.out'), outcome.reference.stdout);
  await writeFile(
    join(dir, 'candidate.out'),
    outcome.candidate.stdout +
      (outcome.candidate.stderr ? `\n--- stderr ---\n${outcome.candidate.stderr}` : ''),
  );
  await writeFile(
    join(dir, 'diff.txt'),
    `case seed ${seed}: ${outcome.comparison.reason}\n` +
      `(- only in the reference, + only in the candidate; for ${shrunk ? 'shrunk.xml' : 'original.xml'})\n\n` +
      outcome.comparison.diff +
      `\nreproduce: ${repro}\n`,
  );
}

async function fuzz(): Promise<number> {
  const p = parseArgs(process.argv.slice(2), spec);
  if (p.has('help')) {
    console.log(usage('usage: npm run fuzz:scheduler -- [options]', spec));
    return 0;
  }
  if (p.has('list-features')) {
    for (const [k, v] of Object.entries(Features)) console.log(`${k.padEnd(20)} ${v}`);
    return 0;
  }
  const ci = p.has('ci');
  let features: Feature[];
  let count = num(p, 'count', 200);
  let seed = num(p, 'seed', Date.now() % 1000000);
  if (ci) {
    const cfg = readCiConfig();
    if (!findExecutable(str(p, 'reference', 'crm_simulate'))) {
      console.log('fuzz:scheduler --ci: crm_simulate is not installed; skipped');
      return 0;
    }
    if (cfg.features.length === 0) {
      console.log(
        `fuzz:scheduler --ci: no features enabled in ${relative(repoRoot, CI_CONFIG)}; skipped (list the features the scheduler supports there)`,
      );
      return 0;
    }
    features = parseFeatures(cfg.features.join(','));
    if (!p.has('count')) count = cfg.count;
    if (!p.has('seed')) seed = cfg.seed;
  } else features = parseFeatures(str(p, 'features', 'all'));
  const genOpts = {
    features,
    maxResources: num(p, 'max-resources', 6),
    maxNodes: num(p, 'max-nodes', 4),
  };
  const seeds = p.has('case')
    ? [num(p, 'case', 0)]
    : Array.from({ length: count }, (_, i) => caseSeed(seed, i));

  if (p.has('emit')) {
    const dir = userPath(str(p, 'emit', '.'));
    await mkdir(dir, { recursive: true });
    for (const s of seeds)
      await writeFile(join(dir, `cib-${s}.xml`), renderCib(generateCib(s, genOpts)));
    console.log(`wrote ${seeds.length} CIBs to ${dir}`);
    return 0;
  }

  const cwd = userCwd();
  const reference = resolveCommand(str(p, 'reference', 'crm_simulate'), cwd);
  const candidate = p.has('cmd')
    ? resolveCommand(str(p, 'cmd', ''), cwd)
    : resolveCommand(DEFAULT_CMD, repoRoot);
  if (!findExecutable(reference[0]!, cwd))
    throw new UsageError(
      `reference command not found: ${reference[0]} (install pacemaker-cli-utils)`,
    );
  const problem = await checkCandidate(candidate, cwd);
  if (problem) {
    console.error(`fuzz:scheduler: ${problem}`);
    return 2;
  }
  const jobs = num(p, 'jobs', cpus().length);
  const timeoutMs = num(p, 'timeout', 30) * 1000;
  const verify = !p.has('no-verify');
  const shrinkMax = num(p, 'shrink-max', ci ? 1 : 5);
  const shrinkTests = num(p, 'shrink-tests', ci ? 60 : 300);
  const budgetMs = p.has('time-budget') || ci ? num(p, 'time-budget', 90) * 1000 : Infinity;
  let notRun = 0;
  const outDir = userPath(str(p, 'out', join(tmpdir(), 'remora-fuzz-failures')));
  const dopts = { reference, candidate, timeoutMs, summaryOnly: p.has('summary-only'), cwd };
  const featureArg = ci ? features.join(',') : str(p, 'features', 'all');

  console.log(
    `fuzz:scheduler: ${seeds.length} CIBs, seed ${seed}, features ${featureArg}\n` +
      `  reference: ${reference.join(' ')}\n  candidate: ${candidate.join(' ')}`,
  );
  const t0 = performance.now();
  let agree = 0;
  let differ = 0;
  let invalid = 0;
  let refFailed = 0;
  let shrunkCount = 0;
  // What the reference decided across the cases, to show what the run covered.
  const coverage = new Map<string, number>();
  const tally = (out: string, err: string): void => {
    const kinds = new Set(summaryLines(out).map((l) => /^\* (\S+)/.exec(l)?.[1] ?? '?'));
    if (kinds.size === 0) kinds.add('(empty)');
    if (/invalid transition/i.test(err)) kinds.add('(failed transition)');
    for (const k of kinds) coverage.set(k, (coverage.get(k) ?? 0) + 1);
  };
  const differing: {
    seed: number;
    cib: FuzzCib;
    outcome: Extract<Outcome, { status: 'differ' }>;
  }[] = [];
  await mapPool(seeds, jobs, async (s) => {
    if (performance.now() - t0 > budgetMs) {
      notRun++;
      return;
    }
    const cib = generateCib(s, genOpts);
    if (verify) {
      const bad = await verifyConfiguration(cib, timeoutMs);
      if (bad) {
        invalid++;
        console.log(`INVALID case ${s}: generated configuration rejected by ${bad}`);
        await mkdir(outDir, { recursive: true });
        await writeFile(join(outDir, `invalid-${s}.xml`), renderCib(cib));
        return;
      }
    }
    const outcome = await differential(renderCib(cib), dopts);
    if (outcome.status !== 'reference-failed')
      tally(outcome.reference.stdout, outcome.reference.stderr);
    if (outcome.status === 'agree') agree++;
    else if (outcome.status === 'reference-failed') {
      refFailed++;
      console.log(`SKIP case ${s}: ${outcome.reason}`);
    } else {
      differ++;
      differing.push({ seed: s, cib, outcome });
      console.log(`DIFF case ${s}: ${outcome.comparison.reason}`);
    }
  });
  const kinds = [...coverage.entries()].sort((a, b) => b[1] - a[1]);
  console.log(
    `reference transitions (cases with each kind): ${kinds.map(([k, n]) => `${k} ${n}`).join(', ')}`,
  );
  differing.sort((a, b) => units(a.cib).length - units(b.cib).length);
  for (const [i, d] of differing.entries()) {
    const repro = `npm run fuzz:scheduler -- --case ${d.seed} --features ${featureArg}${p.has('cmd') ? ` --cmd "${str(p, 'cmd', '')}"` : ''}`;
    let shrunk: FuzzCib | undefined;
    let outcome = d.outcome;
    if (i < shrinkMax) {
      let last = outcome;
      const r = await shrinkCib(
        d.cib,
        async (c) => {
          const o = await differential(renderCib(c), dopts);
          if (o.status === 'differ') last = o;
          return o.status === 'differ';
        },
        { maxTests: shrinkTests },
      );
      shrunk = r.cib;
      // Re-run on the final shrunk CIB so the saved outputs match it.
      const final = await differential(renderCib(shrunk), dopts);
      outcome = final.status === 'differ' ? final : last;
      shrunkCount++;
      console.log(
        `  case ${d.seed}: shrunk from ${units(d.cib).length} to ${units(shrunk).length} units in ${r.tests} runs`,
      );
    }
    const dir = join(outDir, `case-${d.seed}`);
    await saveCase(dir, d.seed, d.cib, shrunk, outcome, repro);
    const shown = relative(cwd, dir);
    console.log(
      `  saved ${shown.startsWith('..') ? dir : shown}/ (${shrunk ? 'shrunk.xml, ' : ''}original.xml, diff.txt)`,
    );
    if (i < 3) console.log(outcome.comparison.diff.replace(/^/gm, '    '));
  }
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  const extra = [
    invalid ? `${invalid} invalid (generator bug)` : '',
    refFailed ? `${refFailed} skipped (reference failed)` : '',
    notRun ? `${notRun} not run (time budget ${budgetMs / 1000} s)` : '',
  ].filter(Boolean);
  console.log(
    `${agree} agree, ${differ} differ${extra.length ? `, ${extra.join(', ')}` : ''} (${secs} s${shrunkCount ? `, ${shrunkCount} shrunk` : ''})`,
  );
  return differ > 0 || invalid > 0 ? 1 : 0;
}

if (require.main === module) main(fuzz);
