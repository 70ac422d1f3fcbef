// npm run bench:transport — figures for the README (see "Benchmark" there).
//
// 1. Latency of a trivial OCF agent (`exit 0`) run through the transport (a
//    daemon in another process, TLS on loopback) vs the same agent run locally
//    through @remora/agent-runner, measured in this same run; target <= 1.3x at p50.
// 2. Operations per second with 100 resources at once, both ways.
// 3. Memory and CPU of one client process holding 100 and 1,000 daemon
//    connections (idle: heartbeats every 500 ms and keepalive pings), daemons
//    as separate processes on loopback (several per process where the machine
//    cannot hold 1,000 node processes: stated in the output).
//
// Options: --ops N (latency samples, default 400), --resources N (100),
// --per-resource N (20), --connections 100,1000, --processes N (daemon
// processes for the largest count, default: as many as memory allows, max 250),
// --hold S (seconds of idle measurement, default 10).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, freemem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AgentRunner } from '@remora/agent-runner';
import { RemoteClient } from '@remora/remote-transport';

const argv = process.argv.slice(2);
function opt(name: string, def: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : def;
}
const OPS = Number(opt('ops', '400'));
const RESOURCES = Number(opt('resources', '100'));
const PER_RESOURCE = Number(opt('per-resource', '20'));
const CONNECTIONS = opt('connections', '100,1000')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const HOLD = Number(opt('hold', '10'));

const children = new Set<ChildProcess>();

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}
const ms = (n: number): string => `${n.toFixed(2)} ms`;

async function startHost(
  count: number,
  keyFile: string,
  ocfRoot: string,
): Promise<{ child: ChildProcess; addresses: string[] }> {
  const child = spawn(
    process.execPath,
    [join(__dirname, 'daemon-host.cjs'), String(count), keyFile, ocfRoot],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  children.add(child);
  const addresses = await new Promise<string[]>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve((JSON.parse(out.slice(0, nl)) as { addresses: string[] }).addresses);
    });
    child.once('exit', (code) => reject(new Error(`daemon host exited (${code})`)));
  });
  return { child, addresses };
}

async function stopHosts(hosts: ChildProcess[]): Promise<void> {
  await Promise.all(
    hosts.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGTERM');
          setTimeout(() => c.kill('SIGKILL'), 5000).unref();
        }),
    ),
  );
  for (const c of hosts) children.delete(c);
}

async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) / 1024 : 0;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'remora-bench-transport-'));
  try {
    const keyFile = join(dir, 'authkey');
    const authKey = randomBytes(4096);
    await writeFile(keyFile, authKey, { mode: 0o400 });
    const ocfRoot = join(dir, 'ocf');
    await mkdir(join(ocfRoot, 'resource.d', 'bench'), { recursive: true });
    await writeFile(join(ocfRoot, 'resource.d', 'bench', 'true'), '#!/bin/sh\nexit 0\n', {
      mode: 0o755,
    });
    const op = (resourceId: string) => ({ resourceId, agent: 'ocf:bench:true', action: 'monitor' });

    console.log(`remora transport benchmark (node ${process.version}, ${cpus().length} cores)\n`);

    // 1. Latency.
    const local = new AgentRunner({ ocfRoot });
    const host = await startHost(1, keyFile, ocfRoot);
    const client = await RemoteClient.connect({ address: host.addresses[0]!, authKey });
    const sample = async (run: () => Promise<unknown>): Promise<number[]> => {
      for (let i = 0; i < 30; i++) await run(); // warm up
      const t: number[] = [];
      for (let i = 0; i < OPS; i++) {
        const s = performance.now();
        await run();
        t.push(performance.now() - s);
      }
      return t.sort((a, b) => a - b);
    };
    // Interleave the two series in blocks so machine noise hits both alike.
    const localT: number[] = [];
    const remoteT: number[] = [];
    for (let block = 0; block < 4; block++) {
      localT.push(...(await sample(() => local.execute(op('lat')))).slice(0, OPS / 4));
      remoteT.push(...(await sample(() => client.execute(op('lat')))).slice(0, OPS / 4));
    }
    localT.sort((a, b) => a - b);
    remoteT.sort((a, b) => a - b);
    console.log(`1. latency of a trivial agent (${localT.length} runs each, sequential)`);
    console.log(
      `   local agent-runner : p50 ${ms(pct(localT, 0.5))}  p99 ${ms(pct(localT, 0.99))}`,
    );
    console.log(
      `   through transport  : p50 ${ms(pct(remoteT, 0.5))}  p99 ${ms(pct(remoteT, 0.99))}  (daemon in another process, TLS, loopback)`,
    );
    const ratio = pct(remoteT, 0.5) / pct(localT, 0.5);
    console.log(
      `   ratio at p50       : ${ratio.toFixed(2)}x (target <= 1.3x) ${ratio <= 1.3 ? 'OK' : 'ABOVE TARGET'}\n`,
    );

    // 2. Throughput with 100 resources.
    const burst = async (run: (id: string) => Promise<unknown>): Promise<number> => {
      const t = performance.now();
      await Promise.all(
        Array.from({ length: RESOURCES }, async (_, i) => {
          for (let k = 0; k < PER_RESOURCE; k++) await run(`r${i}`);
        }),
      );
      return (RESOURCES * PER_RESOURCE) / ((performance.now() - t) / 1000);
    };
    await burst((id) => local.execute(op(id)));
    const localOps = await burst((id) => local.execute(op(id)));
    await burst((id) => client.execute(op(id)));
    const remoteOps = await burst((id) => client.execute(op(id)));
    console.log(
      `2. throughput, ${RESOURCES} resources x ${PER_RESOURCE} operations, up to 32 agents at once`,
    );
    console.log(`   local agent-runner : ${localOps.toFixed(0)} ops/s`);
    console.log(
      `   through transport  : ${remoteOps.toFixed(0)} ops/s (${(remoteOps / localOps).toFixed(2)}x of local)\n`,
    );
    await client.close();
    await local.close();
    await stopHosts([host.child]);

    // 3. One client holding many connections.
    console.log(
      `3. one client process holding N daemon connections (idle ${HOLD} s: heartbeats 2/s and keepalive pings 1/s per connection)`,
    );
    for (const n of CONNECTIONS) {
      const probe = await startHost(1, keyFile, ocfRoot);
      await new Promise((r) => setTimeout(r, 500));
      const perProcessMiB = await rssOf(probe.child.pid!);
      await stopHosts([probe.child]);
      const byMemory = Math.floor((freemem() / 2 ** 20 - 2048) / (perProcessMiB * 1.3));
      const processes = Math.max(
        1,
        Math.min(n, Number(opt('processes', String(Math.min(250, byMemory))))),
      );
      const perProcess = Math.ceil(n / processes);
      const hosts: { child: ChildProcess; addresses: string[] }[] = [];
      const t = performance.now();
      for (let i = 0; i < processes; i += 4) {
        hosts.push(
          ...(await Promise.all(
            Array.from({ length: Math.min(4, processes - i) }, (_, k) =>
              startHost(Math.min(perProcess, n - (i + k) * perProcess), keyFile, ocfRoot),
            ),
          )),
        );
      }
      const addresses = hosts.flatMap((h) => h.addresses).slice(0, n);
      const daemonRss = (await Promise.all(hosts.map((h) => rssOf(h.child.pid!)))).reduce(
        (a, b) => a + b,
        0,
      );
      const startS = (performance.now() - t) / 1000;
      const holder = spawn(
        process.execPath,
        ['--expose-gc', join(__dirname, 'client-holder.cjs'), keyFile, String(HOLD)],
        {
          stdio: ['pipe', 'pipe', 'inherit'],
        },
      );
      children.add(holder);
      holder.stdin!.end(JSON.stringify({ addresses }));
      const out = await new Promise<string>((resolve) => {
        let o = '';
        holder.stdout!.on('data', (b: Buffer) => (o += b.toString()));
        holder.once('exit', () => resolve(o));
      });
      children.delete(holder);
      const r = JSON.parse(out) as {
        connections: number;
        connected: number;
        connectMs: number;
        baselineRssMiB: number;
        rssMiB: number;
        heapUsedMiB: number;
        cpuPercent: number;
      };
      console.log(
        `   ${String(n).padStart(5)} connections: ${r.connected}/${r.connections} connected in ${(r.connectMs / 1000).toFixed(1)} s; ` +
          `client RSS ${r.rssMiB.toFixed(0)} MiB (${r.baselineRssMiB.toFixed(0)} MiB before connecting, ${(((r.rssMiB - r.baselineRssMiB) * 1024) / n).toFixed(0)} KiB per connection), ` +
          `heap ${r.heapUsedMiB.toFixed(0)} MiB, CPU ${r.cpuPercent.toFixed(1)} % of one core`,
      );
      console.log(
        `          daemons: ${n} in ${hosts.length} processes (${perProcess} per process; one node process is ${perProcessMiB.toFixed(0)} MiB, ` +
          `${processes < n ? `${n} processes would not fit in this machine's memory` : 'one per process'}), ` +
          `${(daemonRss / 1024).toFixed(1)} GiB RSS in all, started in ${startS.toFixed(0)} s`,
      );
      await stopHosts(hosts.map((h) => h.child));
    }
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  for (const c of children) c.kill('SIGKILL');
  process.exit(1);
});
