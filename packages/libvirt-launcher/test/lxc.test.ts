/**
 * Real libvirt-LXC containers through a private libvirtd (own mount
 * namespace without the cgroup2 mount, own network namespace with a
 * bridge), whose init is `remora remoted`.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { OperationResult } from '@remora/agent-runner';
import { AgentRunner, OcfRc } from '@remora/agent-runner';
import type { Domain, PrivateLibvirtd } from '@remora/libvirt-launcher';
import {
  DomainState,
  GuestStoppedError,
  GuestTimeoutError,
  LibvirtConnection,
  MigrationUnsupportedError,
  launchGuest,
  lxcContainer,
  privateLibvirtdSupport,
  remotedInit,
  startPrivateLibvirtd,
  stopGuest,
  waitForRemoted,
} from '@remora/libvirt-launcher';
import { AuthenticationError, RemoteClient } from '@remora/remote-transport';

const support = privateLibvirtdSupport();
const reason = !support.ok ? support.reason : !support.lxc ? support.reason : '';
if (reason) console.warn(`real LXC tests skipped: ${reason}`);
const describeIf = reason ? describe.skip : describe;

/** The container's cgroup folder in a v1 hierarchy (libvirt names it lxc-<pid>-<name>.libvirt-lxc). */
function cgroupDir(controller: string, name: string): string | undefined {
  const machine = `/sys/fs/cgroup/${controller}/machine`;
  if (!existsSync(machine)) return undefined;
  const dir = readdirSync(machine).find((d) => d.endsWith(`-${name}.libvirt-lxc`));
  return dir ? join(machine, dir) : undefined;
}

const read = (file: string): string => readFileSync(file, 'utf8').trim();

/** Whether a process still runs (a zombie waiting for PID 1 to reap it does not). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** The container's init: the child of libvirt_lxc (whose PID libvirt reports as the domain id). */
function initPid(controllerPid: number): number {
  return Number(read(`/proc/${controllerPid}/task/${controllerPid}/children`).split(' ')[0]);
}
const MiB = 1024 * 1024;

describeIf('real libvirt-LXC guests running remora remoted', () => {
  let lv: PrivateLibvirtd;
  let conn: LibvirtConnection;
  let dir: string;
  let keyFile: string;
  const key = randomBytes(64);
  let n = 10;

  /** A guest container spec running remoted on 10.213.0.<n>. */
  const guest = (
    name: string,
    extra: Partial<Parameters<typeof lxcContainer>[0]> = {},
  ): { xml: string; ip: string } => {
    const ip = `10.213.0.${++n}`;
    const xml = lxcContainer({
      name,
      memoryMiB: 256,
      ...remotedInit({
        nodeName: name,
        authKeyFile: keyFile,
        localSocket: join(dir, name, 'remoted.sock'),
      }),
      interfaces: [{ bridge: 'br0', ip: `${ip}/24` }],
      ...extra,
    });
    return { xml, ip };
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'remora-lxc-'));
    keyFile = join(dir, 'authkey');
    await writeFile(keyFile, key, { mode: 0o400 });
    lv = await startPrivateLibvirtd();
    conn = lv.connection('lxc');
  });

  afterAll(async () => {
    await lv?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('starts a container whose remora remoted answers an authenticated handshake from the bridge side', async () => {
    const { xml, ip } = guest('g1');
    const address = await lv.forward(ip, 3121);
    const launched = await launchGuest({
      connection: conn,
      xml,
      remote: { address, authKey: key, connectTimeoutMs: 20_000 },
    });
    expect(launched.nodeName).toBe('g1');
    expect(launched.readyMs).toBeLessThan(20_000);
    const info = await launched.domain.info();
    expect(info).toMatchObject({ state: 'running', osType: 'exe', persistent: true });
    // the guest's init is remoted, in its own network namespace
    const init = initPid(info.id as number);
    expect(read(`/proc/${init}/cmdline`).split('\0').join(' ')).toContain(
      'remoted --listen 0.0.0.0:3121',
    );
    expect(readlinkSync(`/proc/${init}/ns/net`)).not.toBe(readlinkSync('/proc/self/ns/net'));
    expect(readlinkSync(`/proc/${init}/ns/net`)).not.toBe(readlinkSync(lv.netnsPath));
    // it runs agents: a real OCF agent inside the guest
    const client = await RemoteClient.connect({ address, authKey: key, reconnect: false });
    try {
      const r = await client.execute({
        resourceId: 'probe',
        agent: 'ocf:heartbeat:Dummy',
        action: 'monitor',
      });
      expect(r.rc).toBe(OcfRc.NOT_RUNNING);
    } finally {
      await client.close();
    }
    // a wrong key is refused, and named
    await expect(
      waitForRemoted({ address, authKey: randomBytes(64), timeoutMs: 3000 }),
    ).rejects.toThrow(AuthenticationError);
    expect(await launched.domain.monitor()).toBe(OcfRc.SUCCESS);

    const stop = await stopGuest(launched.domain, { timeoutMs: 10_000 });
    expect(stop.how).toBe('shutdown'); // SIGTERM to remoted (signal mode), no destroy needed
    expect((await launched.domain.state()).state).toBe(DomainState.ABSENT);
    expect(running(init)).toBe(false);
    expect(running(info.id as number)).toBe(false);
    expect(cgroupDir('memory', 'g1')).toBeUndefined();
  });

  it('puts memory and CPU limits in the container cgroups and changes them live', async () => {
    const { xml } = guest('g2', {
      limits: {
        memoryHardLimitMiB: 192,
        memorySoftLimitMiB: 128,
        cpuShares: 512,
        cpuPeriodUs: 100_000,
        cpuQuotaUs: 50_000,
      },
    });
    const { domain } = await launchGuest({ connection: conn, xml, persistent: false });
    try {
      const mem = cgroupDir('memory', 'g2');
      const cpu = cgroupDir('cpu', 'g2');
      expect(mem && cpu).toBeTruthy();
      expect(Number(read(join(mem!, 'memory.limit_in_bytes')))).toBe(192 * MiB);
      expect(Number(read(join(mem!, 'memory.soft_limit_in_bytes')))).toBe(128 * MiB);
      expect(read(join(cpu!, 'cpu.shares'))).toBe('512');
      expect(read(join(cpu!, 'cpu.cfs_period_us'))).toBe('100000');
      expect(read(join(cpu!, 'cpu.cfs_quota_us'))).toBe('50000');
      // the guest's own processes are in those cgroups
      const init = initPid((await domain.info()).id as number);
      expect(read(join(mem!, 'cgroup.procs')).split('\n')).toContain(String(init));

      await domain.setLimits({ cpuQuotaUs: 25_000, cpuShares: 256, memoryHardLimitMiB: 160 });
      expect(read(join(cpu!, 'cpu.cfs_quota_us'))).toBe('25000');
      expect(read(join(cpu!, 'cpu.shares'))).toBe('256');
      expect(Number(read(join(mem!, 'memory.limit_in_bytes')))).toBe(160 * MiB);
      expect(await domain.limits()).toMatchObject({
        cpuShares: 256,
        cpuQuotaUs: 25_000,
        memoryHardLimitMiB: 160,
      });
    } finally {
      await domain.destroy();
    }
    expect(cgroupDir('cpu', 'g2')).toBeUndefined();
  });

  it('destroys a guest that ignores the shutdown signal once the timeout expires', async () => {
    // /bin/sleep as PID 1 has no SIGTERM handler, so the signal does nothing.
    const xml = lxcContainer({
      name: 'stubborn',
      memoryMiB: 64,
      init: '/bin/sleep',
      initArgs: ['600'],
    });
    const domain = await conn.create(xml);
    const init = initPid((await domain.info()).id as number);
    const stop = await domain.shutdown({ timeoutMs: 800 });
    expect(stop.how).toBe('destroyed');
    expect(stop.elapsedMs).toBeGreaterThanOrEqual(800);
    expect((await domain.state()).state).toBe(DomainState.ABSENT);
    expect(running(init)).toBe(false);
  });

  it('fails readiness at once when the guest stops, and after remote-connect-timeout when nothing answers', async () => {
    const xml = lxcContainer({
      name: 'quitter',
      memoryMiB: 64,
      init: '/bin/sh',
      initArgs: ['-c', 'sleep 0.3'],
    });
    const address = await lv.forward('10.213.0.250', 3121);
    const t0 = Date.now();
    const err = await launchGuest({
      connection: conn,
      xml,
      remote: { address, authKey: key, connectTimeoutMs: 20_000 },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GuestStoppedError);
    expect((err as Error).message).toMatch(/quitter: the guest is shut off/);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect((await conn.domain('quitter').state()).state).toBe(DomainState.ABSENT); // cleaned up

    const timeout = await waitForRemoted({
      address,
      authKey: key,
      timeoutMs: 600,
      guest: 'nobody',
    }).catch((e: unknown) => e);
    expect(timeout).toBeInstanceOf(GuestTimeoutError);
    expect((timeout as Error).message).toMatch(
      /nobody: remote daemon at unix:.* not ready within remote-connect-timeout 600 ms/,
    );
  });

  it('says LXC guests cannot migrate', async () => {
    const xml = lxcContainer({
      name: 'mover',
      memoryMiB: 64,
      init: '/bin/sleep',
      initArgs: ['600'],
    });
    const domain: Domain = await conn.define(xml);
    await domain.start();
    const err = await domain
      .migrate(new LibvirtConnection({ uri: lv.uri('lxc') }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationUnsupportedError);
    expect((err as Error).message).toMatch(/cannot migrate 'mover'/);
    await domain.destroy();
    await domain.undefine();
  });

  it("runs as ocf:remora:libvirt-guest: start waits for the guest's remoted, stop shuts it down", async () => {
    const { xml, ip } = guest('agent-guest');
    const config = join(dir, 'agent-guest.xml');
    await writeFile(config, xml);
    await mkdir(join(dir, 'ocf', 'resource.d'), { recursive: true });
    await symlink(
      resolve(__dirname, '..', 'agents', 'remora'),
      join(dir, 'ocf', 'resource.d', 'remora'),
    );
    await using runner = new AgentRunner({ ocfRoot: join(dir, 'ocf') });
    const params = {
      config,
      hypervisor: lv.uri('lxc'),
      remoted_address: await lv.forward(ip, 3121),
      authkey: keyFile,
      remote_connect_timeout: '20s',
    };
    const run = (action: string): Promise<OperationResult> =>
      runner.execute({
        resourceId: 'agent-guest',
        agent: 'ocf:remora:libvirt-guest',
        action,
        params,
        timeout: 30_000,
      });
    const start = await run('start');
    expect(start.exitReason).toBe('');
    expect(start.rc).toBe(OcfRc.SUCCESS);
    // ready means the daemon answers now
    expect(
      (await waitForRemoted({ address: params.remoted_address, authKey: key, timeoutMs: 1000 }))
        .nodeName,
    ).toBe('agent-guest');
    expect((await run('monitor')).rc).toBe(OcfRc.SUCCESS);
    expect((await run('stop')).rc).toBe(OcfRc.SUCCESS);
    expect((await run('monitor')).rc).toBe(OcfRc.NOT_RUNNING);
    expect(cgroupDir('memory', 'agent-guest')).toBeUndefined();
  });

  it('leaves nothing behind when the private libvirtd stops: no guest, process, cgroup or namespace', async () => {
    const { xml, ip } = guest('last');
    const address = await lv.forward(ip, 3121);
    const { domain } = await launchGuest({
      connection: conn,
      xml,
      remote: { address, authKey: key },
    });
    const { id } = await domain.info();
    const netns = readlinkSync(lv.netnsPath);
    const pids = lv.processes();
    expect(lv.trackingCgroups.length).toBeGreaterThan(0);
    expect(pids).toEqual(expect.arrayContaining([lv.pid, id as number, initPid(id as number)]));
    await lv.stop(); // destroys the running guest too
    expect(pids.filter(running)).toEqual([]);
    expect(cgroupDir('memory', 'last')).toBeUndefined();
    expect(lv.trackingCgroups.filter((c) => existsSync(c))).toEqual([]);
    const stillInNetns = readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return readlinkSync(`/proc/${p}/ns/net`) === netns && running(Number(p));
        } catch {
          return false;
        }
      });
    expect(stillInNetns).toEqual([]);
    expect(existsSync(lv.dir)).toBe(false);
  });
});

describeIf(
  'real libvirt-LXC guests sharing the host network (private libvirtd without a network namespace)',
  () => {
    let lv: PrivateLibvirtd;
    let dir: string;
    const key = randomBytes(64);

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'remora-lxh-'));
      await writeFile(join(dir, 'authkey'), key, { mode: 0o400 });
      lv = await startPrivateLibvirtd({ network: false });
    });

    afterAll(async () => {
      await lv?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('reaches a guest without an interface on 127.0.0.1 directly', async () => {
      const port = 20_000 + Math.floor(Math.random() * 20_000);
      const xml = lxcContainer({
        name: 'hostnet',
        memoryMiB: 256,
        ...remotedInit({
          nodeName: 'hostnet',
          authKeyFile: join(dir, 'authkey'),
          listen: `127.0.0.1:${port}`,
          localSocket: join(dir, 'hostnet', 'remoted.sock'),
        }),
      });
      const { domain, nodeName } = await launchGuest({
        connection: lv.connection('lxc'),
        xml,
        persistent: false,
        remote: { address: `127.0.0.1:${port}`, authKey: key, connectTimeoutMs: 20_000 },
      });
      expect(nodeName).toBe('hostnet');
      const init = initPid((await domain.info()).id as number);
      expect(readlinkSync(`/proc/${init}/ns/net`)).toBe(readlinkSync('/proc/self/ns/net'));
      expect((await stopGuest(domain, { timeoutMs: 10_000 })).how).toBe('shutdown');
      expect(running(init)).toBe(false);
    });
  },
);

describeIf('a private libvirtd inside an existing network namespace (a simulated host)', () => {
  const netns = `remora-lvt-${randomBytes(3).toString('hex')}`;
  let lv: PrivateLibvirtd | undefined;
  let dir: string;
  const key = randomBytes(64);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'remora-lxn-'));
    await writeFile(join(dir, 'authkey'), key, { mode: 0o400 });
    execFileSync('ip', ['netns', 'add', netns]);
    execFileSync('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
  });

  afterAll(async () => {
    await lv?.stop();
    try {
      execFileSync('ip', ['netns', 'delete', netns]);
    } catch {
      // already gone
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs guests in that namespace, reached through forward()', async () => {
    lv = await startPrivateLibvirtd({ joinNetns: `/run/netns/${netns}` });
    const nsIno = (path: string): number => statSync(path).ino;
    expect(nsIno(lv.netnsPath)).toBe(nsIno(`/run/netns/${netns}`));
    const xml = lxcContainer({
      name: 'inns',
      memoryMiB: 256,
      ...remotedInit({
        nodeName: 'inns',
        authKeyFile: join(dir, 'authkey'),
        listen: '127.0.0.1:3121',
        localSocket: join(dir, 'inns', 'remoted.sock'),
      }),
    });
    const address = await lv.forward('127.0.0.1', 3121);
    expect(address).toMatch(/^unix:/);
    const { domain, nodeName } = await launchGuest({
      connection: lv.connection('lxc'),
      xml,
      persistent: false,
      remote: { address, authKey: key, connectTimeoutMs: 20_000 },
    });
    expect(nodeName).toBe('inns');
    const init = initPid((await domain.info()).id as number);
    expect(nsIno(`/proc/${init}/ns/net`)).toBe(nsIno(`/run/netns/${netns}`));
    await lv.stop();
    expect(running(init)).toBe(false);
  });
});
