/**
 * The agent-runner demo: discover agents, read an agent's meta-data, run a
 * real OCF agent (ocf:heartbeat:Dummy) through start / recurring monitor /
 * failure detection / stop, and show a timeout killing a hung agent's whole
 * process group.
 *
 *   npx ts-node examples/agent-runner.ts [--resources N]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentRunner, ocfRcName } from '@remora/agent-runner';
import type { OperationResult } from '@remora/agent-runner';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!Number.isInteger(value) || value < 1 || value > 1000) {
    console.error(
      `${name}: expected a whole number between 1 and 1000, got '${process.argv[i + 1]}'`,
    );
    process.exit(64);
  }
  return value;
}

function show(r: OperationResult): string {
  const reason = r.exitReason ? ` (${r.exitReason})` : '';
  return `${r.operationKey.padEnd(24)} rc=${r.rc} ${ocfRcName(r.rc).padEnd(12)} ${r.execStatus.padEnd(9)} ${r.runTime.toFixed(0).padStart(4)} ms${reason}`;
}

async function main(): Promise<void> {
  const count = arg('--resources', 4);
  const dir = await mkdtemp(join(tmpdir(), 'remora-demo-'));
  await using runner = new AgentRunner({ maxConcurrent: 8 });
  try {
    console.log('== discovery');
    console.log(`classes:   ${(await runner.listClasses()).join(', ')}`);
    console.log(`providers: ${(await runner.listProviders()).join(', ')}`);
    const heartbeat = await runner.listAgents('ocf', 'heartbeat');
    console.log(
      `ocf:heartbeat agents: ${heartbeat.length} (${heartbeat.slice(0, 6).join(', ')}, ...)`,
    );

    console.log('\n== meta-data of ocf:heartbeat:Dummy');
    const md = await runner.metaData('ocf:heartbeat:Dummy');
    console.log(`${md.name} ${md.version}: ${md.shortdesc}`);
    for (const p of md.parameters) {
      console.log(
        `  param ${p.name.padEnd(10)} ${p.type.padEnd(8)} default=${p.default ?? '-'}${p.unique ? ' unique' : ''}`,
      );
    }
    for (const a of md.actions) {
      console.log(
        `  action ${a.name.padEnd(12)} timeout=${a.timeout ?? '-'}ms${a.interval ? ` interval=${a.interval}ms` : ''}`,
      );
    }

    console.log(`\n== start ${count} Dummy resources in parallel`);
    const ids = Array.from({ length: count }, (_, i) => `dummy${i + 1}`);
    const params = (id: string) => ({ state: join(dir, `${id}.state`) });
    const t0 = performance.now();
    const starts = await Promise.all(
      ids.map((id) =>
        runner.execute({
          resourceId: id,
          agent: 'ocf:heartbeat:Dummy',
          action: 'start',
          params: params(id),
        }),
      ),
    );
    for (const r of starts) console.log(show(r));
    console.log(`all started in ${(performance.now() - t0).toFixed(0)} ms`);

    console.log(
      '\n== recurring monitor (every 500 ms) on dummy1; then dummy1 fails behind our back',
    );
    const monitor = runner.recur({
      resourceId: 'dummy1',
      agent: 'ocf:heartbeat:Dummy',
      action: 'monitor',
      interval: 500,
      params: params('dummy1'),
    });
    const results = monitor.results();
    console.log(show((await results.next()).value as OperationResult));
    const failedAt = performance.now();
    await rm(params('dummy1').state);
    const failure = (await results.next()).value as OperationResult;
    console.log(show(failure));
    console.log(
      `failure detected after ${(performance.now() - failedAt).toFixed(0)} ms (monitor interval 500 ms)`,
    );
    monitor.cancel();

    console.log('\n== an agent that hangs: timeout 300 ms kills its process group');
    const hung = await runner.execute({
      resourceId: `hung-${process.pid}`,
      agent: 'ocf:heartbeat:Delay',
      action: 'start',
      params: { startdelay: '30' },
      timeout: 300,
    });
    console.log(show(hung));
    // Delay records itself as started before sleeping: stop it to leave nothing behind.
    await runner.execute({
      resourceId: `hung-${process.pid}`,
      agent: 'ocf:heartbeat:Delay',
      action: 'stop',
      params: { startdelay: '30', stopdelay: '0' },
    });

    console.log('\n== stop everything');
    const stops = await Promise.all(
      ids.map((id) =>
        runner.execute({
          resourceId: id,
          agent: 'ocf:heartbeat:Dummy',
          action: 'stop',
          params: params(id),
        }),
      ),
    );
    for (const r of stops) console.log(show(r));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
