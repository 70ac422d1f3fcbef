/**
 * bench:agents — per-operation latency and parallel throughput of
 * AgentRunner on a real OCF agent (ocf:heartbeat:Dummy monitor), against the
 * reference measured in the same run: Pacemaker's own execution library, as
 * used by its executor, through `crm_resource --force-check` (one process per
 * operation, which is also what `remora agent run` costs) and a plain
 * fork/exec of the same script with node:child_process. Then 100 resources
 * monitored concurrently, and memory / open descriptors over --leak-ops
 * operations.
 *
 *   npm run bench:agents [-- --ops 200 --parallel 16 --leak-ops 10000]
 */
import { execFile, spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { AgentRunner } from '../src';
import { OcfDriver } from '../src/drivers/ocf';

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

/** A plain fork/exec of a script with the same stdio setup, waiting for exit: the floor. */
function plainSpawn(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolveP, reject) => {
    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    child.stdout.resume();
    child.stderr.resume();
    child.on('error', reject);
    child.on('close', () => resolveP());
  });
}

const fmt = (s: Stats): string =>
  `p50 ${s.p50.toFixed(2)} ms  p99 ${s.p99.toFixed(2)} ms  mean ${s.mean.toFixed(2)} ms`;

async function main(): Promise<void> {
  const ops = flag('--ops', 200);
  const parallel = flag('--parallel', 16);
  const leakOps = flag('--leak-ops', 10_000);
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

    const ocfRoot = join(dir, 'ocf');
    await mkdir(join(ocfRoot, 'resource.d', 'bench'), { recursive: true });
    const trivial = join(ocfRoot, 'resource.d', 'bench', 'trivial');
    await writeFile(trivial, '#!/bin/sh\nexit 0\n');
    await chmod(trivial, 0o755);
    const dummy = '/usr/lib/ocf/resource.d/heartbeat/Dummy';
    await using bare = new AgentRunner({ ocfRoot });
    // The plain spawn gets exactly the environment the runner builds, so only the runner's own work differs.
    const ocfEnv = (
      ocfRootDir: string,
      provider: string,
      type: string,
      params: Record<string, string>,
    ): NodeJS.ProcessEnv =>
      new OcfDriver({ ocfRoot: ocfRootDir, baseEnv: process.env, tailBytes: 65536 }).environment({
        resourceId: 'd0',
        agent: { class: 'ocf', provider, type },
        action: 'monitor',
        params,
        meta: {},
        interval: 0,
        timeout: 20_000,
        signal: new AbortController().signal,
      });
    const trivialEnv = ocfEnv(ocfRoot, 'bench', 'trivial', {});
    const dummyEnv = ocfEnv('/usr/lib/ocf', 'heartbeat', 'Dummy', { state: state(0) });
    console.log(
      `\nrunner overhead against a plain fork/exec of the same script (${ops} sequential operations)`,
    );
    const trivRunner = await timed(ops, (i) =>
      bare.execute({ resourceId: `t${i % 4}`, agent: 'ocf:bench:trivial', action: 'monitor' }),
    );
    const trivPlain = await timed(ops, () => plainSpawn(trivial, ['monitor'], trivialEnv));
    const dummyRunner = await timed(ops, monitor);
    const dummyPlain = await timed(ops, () => plainSpawn(dummy, ['monitor'], dummyEnv));
    console.log(`  trivial agent  runner ${fmt(trivRunner)}`);
    console.log(
      `  trivial agent  plain  ${fmt(trivPlain)}   ratio ${(trivRunner.p50 / trivPlain.p50).toFixed(2)}x (target <= 1.2x)`,
    );
    console.log(`  Dummy monitor  runner ${fmt(dummyRunner)}`);
    console.log(
      `  Dummy monitor  plain  ${fmt(dummyPlain)}   ratio ${(dummyRunner.p50 / dummyPlain.p50).toFixed(2)}x (target <= 1.2x)`,
    );

    {
      await using wide = new AgentRunner({ maxConcurrent: 100 });
      const start = performance.now();
      await Promise.all(
        Array.from({ length: 100 }, (_, r) =>
          (async () => {
            for (let k = 0; k < 5; k++) {
              await wide.execute({
                resourceId: `w${r}`,
                agent: 'ocf:heartbeat:Dummy',
                action: 'monitor',
                params: { state: join(dir, `w${r}.state`) },
              });
            }
          })(),
        ),
      );
      const secs = (performance.now() - start) / 1000;
      console.log(
        `\n100 resources monitored concurrently, 5 monitors each: ${(500 / secs).toFixed(0)} ops/s (${secs.toFixed(2)} s)`,
      );
    }

    {
      const fds = async (): Promise<number> => (await readdir('/proc/self/fd')).length;
      global.gc?.();
      const before = {
        rss: process.memoryUsage().rss,
        heap: process.memoryUsage().heapUsed,
        fds: await fds(),
      };
      await throughput(leakOps, 16, (i) =>
        bare.execute({ resourceId: `l${i % 16}`, agent: 'ocf:bench:trivial', action: 'monitor' }),
      );
      global.gc?.();
      const after = {
        rss: process.memoryUsage().rss,
        heap: process.memoryUsage().heapUsed,
        fds: await fds(),
      };
      const mb = (b: number): string => (b / 1048576).toFixed(1);
      console.log(
        `\n${leakOps} operations: heap ${mb(before.heap)} -> ${mb(after.heap)} MiB, rss ${mb(before.rss)} -> ${mb(after.rss)} MiB, open fds ${before.fds} -> ${after.fds}`,
      );
    }

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
