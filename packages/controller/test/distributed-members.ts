import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { makeToken } from '@remora/remote-transport';
import { FENCE_AGENT_DIR, clusterProcesses, freePort, killCluster } from '../src';
import type { ClusterMember, MemberState } from '../src';

/** The distributed-mode binary (built by setup / `npm run build`). */
export const CLUSTER_NODE_BIN = resolve(__dirname, '../dist/bin/cluster-node.js');

/** Every set of members a test file made, for cleanupMembers() in its afterAll. */
const made: DistributedMembers[] = [];

/**
 * The members of a distributed test cluster: a fresh directory with the
 * authkey, one loopback address per member (peer endpoint and executor),
 * their JSON configurations for `dist/bin/cluster-node.js`, and their
 * processes with captured output. Every process carries the cluster's
 * REMORA_CLUSTER mark (leftover checks, fence_remora).
 */
export class DistributedMembers {
  readonly cluster = `dist-${randomUUID()}`;
  readonly key = randomBytes(64);
  readonly procs = new Map<string, ChildProcess>();
  /** Each member's stdout and stderr so far. */
  readonly output = new Map<string, string>();
  readonly members: ClusterMember[] = [];
  /** The initial CIB every member starts from (written by configure()). */
  readonly cibFile: string;
  readonly keyFile: string;

  private constructor(readonly dir: string) {
    this.cibFile = join(dir, 'cib.xml');
    this.keyFile = join(dir, 'authkey');
  }

  /** `count` members node1..nodeN on 127.0.0.<firstHost + i> (peer and executor ports free there). */
  static async create(firstHost: number, count = 3): Promise<DistributedMembers> {
    const c = new DistributedMembers(await mkdtemp(join(tmpdir(), 'remora-ctl-dist-')));
    made.push(c);
    await writeFile(c.keyFile, c.key, { mode: 0o400 });
    for (let i = 1; i <= count; i++) {
      const host = `127.0.0.${firstHost + i}`;
      c.members.push({
        name: `node${i}`,
        id: i,
        peer: `${host}:${await freePort(host)}`,
        executor: `${host}:${await freePort(host)}`,
      });
    }
    return c;
  }

  /** A member's run directory (its HA_RSCTMP: Dummy's state files). */
  runDir(name: string): string {
    return join(this.dir, 'run', name);
  }

  /** The `<node>` entries of the members, for the CIB's configuration. */
  get nodesXml(): string {
    return this.members.map((m) => `<node id="${m.id}" uname="${m.name}"/>`).join('');
  }

  /** The fence_remora device that powers off this cluster's machines. */
  get fenceDeviceXml(): string {
    return `<primitive class="stonith" id="fence-local" type="fence_remora"><instance_attributes id="f-ia"><nvpair id="f-rd" name="run_dir" value="${join(this.dir, 'run')}"/><nvpair id="f-cl" name="cluster" value="${this.cluster}"/></instance_attributes></primitive>`;
  }

  /** Write the initial CIB and every member's configuration (`extra` adds or overrides keys). */
  async configure(
    cib: string,
    extra: (m: ClusterMember) => Record<string, unknown> = () => ({}),
  ): Promise<void> {
    await writeFile(this.cibFile, cib);
    for (const m of this.members) {
      await mkdir(this.runDir(m.name), { recursive: true });
      await writeFile(
        this.configFile(m.name),
        JSON.stringify({
          name: m.name,
          members: this.members,
          authkey: this.keyFile,
          cib: this.cibFile,
          stateDir: this.runDir(m.name),
          fenceAgentDir: FENCE_AGENT_DIR,
          ...extra(m),
        }),
      );
    }
  }

  configFile(name: string): string {
    return join(this.dir, `${name}.json`);
  }

  /** Start a member's process; its output is collected from the start (a restart keeps what came before). */
  spawn(name: string): ChildProcess {
    const p = spawn(process.execPath, [CLUSTER_NODE_BIN, this.configFile(name)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, REMORA_MACHINE: name, REMORA_CLUSTER: this.cluster },
    });
    if (!this.output.has(name)) this.output.set(name, '');
    const add = (b: Buffer): void =>
      void this.output.set(name, this.output.get(name)! + b.toString());
    p.stdout!.on('data', add);
    p.stderr!.on('data', add);
    this.procs.set(name, p);
    return p;
  }

  /** The member's process runs (started, not exited or killed). */
  running(name: string): boolean {
    const p = this.procs.get(name);
    return p !== undefined && p.exitCode === null && p.signalCode === null;
  }

  /**
   * Wait until `ok` holds, polling every `pollMs`; the time it took. On timeout
   * the error carries the tail of every member's output.
   */
  async until(
    what: string,
    ok: () => boolean | Promise<boolean>,
    timeoutMs: number,
    pollMs = 25,
  ): Promise<number> {
    const t = Date.now();
    while (!(await ok())) {
      if (Date.now() - t > timeoutMs)
        throw new Error(
          `timed out waiting for ${what}\n${[...this.output].map(([n, o]) => `--- ${n}\n${o.slice(-4000)}`).join('\n')}`,
        );
      await new Promise((r) => setTimeout(r, pollMs));
    }
    return Date.now() - t;
  }

  /** What a member says about itself on its peer endpoint (undefined when it does not answer). */
  async stateOf(name: string): Promise<MemberState | undefined> {
    const m = this.members.find((x) => x.name === name)!;
    try {
      const r = await fetch(`http://${m.peer}/state`, {
        headers: { 'x-remora-token': makeToken(this.key) },
        signal: AbortSignal.timeout(1000),
      });
      return r.ok ? ((await r.json()) as MemberState) : undefined;
    } catch {
      return undefined;
    }
  }

  /** SIGTERM every running member. */
  terminate(): void {
    for (const name of this.procs.keys())
      if (this.running(name)) this.procs.get(name)!.kill('SIGTERM');
  }

  /** SIGTERM the members and wait until none of the cluster's processes is left. */
  async stop(timeoutMs = 15_000): Promise<void> {
    this.terminate();
    await this.until(
      'the processes to exit',
      () => clusterProcesses(this.cluster).length === 0,
      timeoutMs,
    );
  }
}

/** For afterAll: stop what the file's clusters left running, kill leftovers, remove their directories. */
export async function cleanupMembers(): Promise<void> {
  for (const c of made) c.terminate();
  await new Promise((r) => setTimeout(r, 500));
  for (const c of made.splice(0)) {
    killCluster(c.cluster);
    await rm(c.dir, { recursive: true, force: true });
  }
}
