/**
 * bench:agents — per-operation latency and parallel throughput of
 * AgentRunner on a real OCF agent (ocf:heartbeat:Dummy monitor), against the
 * reference measured in the same run: Pacemaker's own execution library, as
 * used by its executor, through `crm_resource --force-check` (one process per
 * operation, which is also what `remora agent run` costs).
 *
 *   npm run bench:agents [-- --ops 200 --parallel 32]
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { AgentRunner } from '../src';

const execFileP = promisify(execFile);

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i < 0 ? fallback : Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name}: expected a positive whole number`);
  return v;
}

interface Stats {
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
}

function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { p50: at(0.5), p99: at(0.99), mean: s.reduce((a, b) => a + b, 0) / s.length };
}

async function timed(n: number, op: (i: number) => Promise<unknown>): Promise<Stats> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await op(i);
    samples.push(performance.now() - t);
  }
  return stats(samples);
}

async function throughput(
  n: number,
  parallel: number,
  op: (i: number) => Promise<unknown>,
): Promise<number> {
  let next = 0;
  const t = performance.now();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < n) await op(next++);
    }),
  );
  return n / ((performance.now() - t) / 1000);
}

const fmt = (s: Stats): string =>
  `p50 ${s.p50.toFixed(2)} ms  p99 ${s.p99.toFixed(2)} ms  mean ${s.mean.toFixed(2)} ms`;

async function main(): Promise<void> {
  const ops = flag('--ops', 200);
  const parallel = flag('--parallel', 16);
  const dir = await mkdtemp(join(tmpdir(), 'remora-bench-agents-'));
  const remora = resolve(__dirname, '../../../node_modules/.bin/remora');
  const state = (i: number): string => join(dir, `d${i % parallel}.state`);
  try {
    await using runner = new AgentRunner({ maxConcurrent: parallel });
    const monitor = (i: number) =>
      runner.execute({
        resourceId: `d${i % parallel}`,
        agent: 'ocf:heartbeat:Dummy',
        action: 'monitor',
        params: { state: state(i) },
      });
    const reference = (i: number) =>
      execFileP('crm_resource', [
        '--force-check',
        '--class',
        'ocf',
        '--provider',
        'heartbeat',
        '--agent',
        'Dummy',
        '--option',
        `state=${state(i)}`,
      ]).catch((err: { code?: number }) => {
        if (err.code !== 7) throw err; // 7 = not running: the expected answer
      });
    const cli = (i: number) =>
      execFileP(remora, [
        'agent',
        'run',
        'ocf:heartbeat:Dummy',
        'monitor',
        '-p',
        `state=${state(i)}`,
      ]).catch((err: { code?: number }) => {
        if (err.code !== 7) throw err;
      });
    // Warm up caches (page cache of the agent and its shell libraries).
    await timed(20, monitor);
    await timed(5, reference);

    console.log(`ocf:heartbeat:Dummy monitor, ${ops} sequential operations`);
    const ours = await timed(ops, monitor);
    const ref = await timed(ops, reference);
    const ourCli = await timed(Math.min(ops, 50), cli);
    console.log(`  AgentRunner.execute          ${fmt(ours)}`);
    console.log(
      `  crm_resource --force-check   ${fmt(ref)}   (reference: Pacemaker services library)`,
    );
    console.log(`  remora agent run (CLI)       ${fmt(ourCli)}`);
    console.log(`  ratio reference/AgentRunner p50: ${(ref.p50 / ours.p50).toFixed(2)}x`);

    console.log(`\n${ops} operations over ${parallel} resources, ${parallel} at a time`);
    const ourRate = await throughput(ops, parallel, monitor);
    const refRate = await throughput(ops, parallel, reference);
    console.log(`  AgentRunner                  ${ourRate.toFixed(0)} ops/s`);
    console.log(`  crm_resource (parallel)      ${refRate.toFixed(0)} ops/s`);
    console.log(`  ratio AgentRunner/reference: ${(ourRate / refRate).toFixed(2)}x`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
