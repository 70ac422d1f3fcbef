/**
 * Real libvirt-LXC containers through a private libvirtd (own mount
 * namespace without the cgroup2 mount, own network namespace with a
 * bridge), whose init is `remora remoted`.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { OperationResult } from '@remora/agent-runner';
import { AgentRunner, OcfRc } from '@remora/agent-runner';
import type { Domain } from '@remora/libvirt-launcher';
import {
  DomainState,
  GuestStoppedError,
  GuestTimeoutError,
  LibvirtConnection,
  MigrationUnsupportedError,
  launchGuest,
  lxcContainer,
  privateLibvirtdSupport,
  stopGuest,
  waitForRemoted,
} from '@remora/libvirt-launcher';
import { AuthenticationError } from '@remora/remote-transport';
import {
  describeUnless,
  executeOnGuest,
  initPid,
  remotedContainer,
  running,
  useTestbed,
} from './guest-testbed';

const support = privateLibvirtdSupport();
const describeIf = describeUnless(
  support.ok && support.lxc ? '' : support.reason,
  'real LXC tests',
);

/** The container's cgroup folder in a v1 hierarchy (libvirt names it lxc-<pid>-<name>.libvirt-lxc). */
function cgroupDir(controller: string, name: string): string | undefined {
  const machine = `/sys/fs/cgroup/${controller}/machine`;
  if (!existsSync(machine)) return undefined;
  const dir = readdirSync(machine).find((d) => d.endsWith(`-${name}.libvirt-lxc`));
  return dir ? join(machine, dir) : undefined;
}

const read = (file: string): string => readFileSync(file, 'utf8').trim();
const MiB = 1024 * 1024;

describeIf('real libvirt-LXC guests running remora remoted', () => {
  const tb = useTestbed('lxc');
  const lxc = (): LibvirtConnection => tb.lv.connection('lxc');
  let n = 10;

  /** A guest container spec running remoted on 10.213.0.<n>. */
  const guest = (
    name: string,
    extra: Partial<Parameters<typeof lxcContainer>[0]> = {},
  ): { xml: string; ip: string } => {
    const ip = `10.213.0.${++n}`;
    const xml = remotedContainer({
      dir: tb.dir,
      keyFile: tb.keyFile,
      name,
      ip: `${ip}/24`,
      ...extra,
    });
    return { xml, ip };
  };

  it('starts a container whose remora remoted answers an authenticated handshake from the bridge side', async () => {
    const { xml, ip } = guest('g1');
    const address = await tb.lv.forward(ip, 3121);
    const launched = await launchGuest({
      connection: lxc(),
      xml,
      remote: { address, authKey: tb.key, connectTimeoutMs: 20_000 },
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
    expect(readlinkSync(`/proc/${init}/ns/net`)).not.toBe(readlinkSync(tb.lv.netnsPath));
    // it runs agents: a real OCF agent inside the guest
    const probe = { resourceId: 'probe', agent: 'ocf:heartbeat:Dummy', action: 'monitor' };
    expect((await executeOnGuest(address, tb.key, probe)).rc).toBe(OcfRc.NOT_RUNNING);
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
    const { domain } = await launchGuest({ connection: lxc(), xml, persistent: false });
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
    const domain = await lxc().create(xml);
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
    const address = await tb.lv.forward('10.213.0.250', 3121);
    const t0 = Date.now();
    const err = await launchGuest({
      connection: lxc(),
      xml,
      remote: { address, authKey: tb.key, connectTimeoutMs: 20_000 },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GuestStoppedError);
    expect((err as Error).message).toMatch(/quitter: the guest is shut off/);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect((await lxc().domain('quitter').state()).state).toBe(DomainState.ABSENT); // cleaned up

    const timeout = await waitForRemoted({
      address,
      authKey: tb.key,
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
    const domain: Domain = await lxc().define(xml);
    await domain.start();
    const err = await domain
      .migrate(new LibvirtConnection({ uri: tb.lv.uri('lxc') }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationUnsupportedError);
    expect((err as Error).message).toMatch(/cannot migrate 'mover'/);
    await domain.destroy();
    await domain.undefine();
  });

  it("runs as ocf:remora:libvirt-guest: start waits for the guest's remoted, stop shuts it down", async () => {
    const { xml, ip } = guest('agent-guest');
    const config = join(tb.dir, 'agent-guest.xml');
    await writeFile(config, xml);
    await mkdir(join(tb.dir, 'ocf', 'resource.d'), { recursive: true });
    await symlink(
      resolve(__dirname, '..', 'agents', 'remora'),
      join(tb.dir, 'ocf', 'resource.d', 'remora'),
    );
    await using runner = new AgentRunner({ ocfRoot: join(tb.dir, 'ocf') });
    const params = {
      config,
      hypervisor: tb.lv.uri('lxc'),
      remoted_address: await tb.lv.forward(ip, 3121),
      authkey: tb.keyFile,
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
      (await waitForRemoted({ address: params.remoted_address, authKey: tb.key, timeoutMs: 1000 }))
        .nodeName,
    ).toBe('agent-guest');
    expect((await run('monitor')).rc).toBe(OcfRc.SUCCESS);
    expect((await run('stop')).rc).toBe(OcfRc.SUCCESS);
    expect((await run('monitor')).rc).toBe(OcfRc.NOT_RUNNING);
    expect(cgroupDir('memory', 'agent-guest')).toBeUndefined();
  });

  it('leaves nothing behind when the private libvirtd stops: no guest, process, cgroup or namespace', async () => {
    const { xml, ip } = guest('last');
    const address = await tb.lv.forward(ip, 3121);
    const { domain } = await launchGuest({
      connection: lxc(),
      xml,
      remote: { address, authKey: tb.key },
    });
    const { id } = await domain.info();
    const netns = readlinkSync(tb.lv.netnsPath);
    const pids = tb.lv.processes();
    expect(tb.lv.trackingCgroups.length).toBeGreaterThan(0);
    expect(pids).toEqual(expect.arrayContaining([tb.lv.pid, id as number, initPid(id as number)]));
    await tb.lv.stop(); // destroys the running guest too
    expect(pids.filter(running)).toEqual([]);
    expect(cgroupDir('memory', 'last')).toBeUndefined();
    expect(tb.lv.trackingCgroups.filter((c) => existsSync(c))).toEqual([]);
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
    expect(existsSync(tb.lv.dir)).toBe(false);
  });
});

describeIf(
  'real libvirt-LXC guests sharing the host network (private libvirtd without a network namespace)',
  () => {
    const tb = useTestbed('lxh', [{ network: false }]);

    it('reaches a guest without an interface on 127.0.0.1 directly', async () => {
      const port = 20_000 + Math.floor(Math.random() * 20_000);
      const xml = remotedContainer({
        dir: tb.dir,
        keyFile: tb.keyFile,
        name: 'hostnet',
        listen: `127.0.0.1:${port}`,
      });
      const { domain, nodeName } = await launchGuest({
        connection: tb.lv.connection('lxc'),
        xml,
        persistent: false,
        remote: { address: `127.0.0.1:${port}`, authKey: tb.key, connectTimeoutMs: 20_000 },
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
  const tb = useTestbed('lxn', []);

  beforeAll(() => {
    execFileSync('ip', ['netns', 'add', netns]);
    execFileSync('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
  });

  afterAll(() => {
    try {
      execFileSync('ip', ['netns', 'delete', netns]);
    } catch {
      // already gone
    }
  });

  it('runs guests in that namespace, reached through forward()', async () => {
    const lv = await tb.start({ joinNetns: `/run/netns/${netns}` });
    const nsIno = (path: string): number => statSync(path).ino;
    expect(nsIno(lv.netnsPath)).toBe(nsIno(`/run/netns/${netns}`));
    const xml = remotedContainer({
      dir: tb.dir,
      keyFile: tb.keyFile,
      name: 'inns',
      listen: '127.0.0.1:3121',
    });
    const address = await lv.forward('127.0.0.1', 3121);
    expect(address).toMatch(/^unix:/);
    const { domain, nodeName } = await launchGuest({
      connection: lv.connection('lxc'),
      xml,
      persistent: false,
      remote: { address, authKey: tb.key, connectTimeoutMs: 20_000 },
    });
    expect(nodeName).toBe('inns');
    const init = initPid((await domain.info()).id as number);
    expect(nsIno(`/proc/${init}/ns/net`)).toBe(nsIno(`/run/netns/${netns}`));
    await lv.stop();
    expect(running(init)).toBe(false);
  });
});
