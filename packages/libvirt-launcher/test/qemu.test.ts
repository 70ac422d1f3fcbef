/**
 * Real QEMU guests (TCG software emulation, domain type 'qemu') through
 * private libvirtds the tests start: Debian's kernel booted directly with an
 * initramfs the test builds (busybox + virtio modules), networking on each
 * daemon's bridge, live limits, live migration between two libvirtds (each
 * in its own network namespace, the data over a Unix socket), ACPI shutdown.
 * The slower suite runs `remora remoted` inside a guest from the host's root
 * shared read-only over 9p.
 *
 * Run with `npm run test:qemu --workspace @remora/libvirt-launcher` (needs
 * root and the Debian packages qemu-system-x86, linux-image-amd64,
 * busybox-static); without REMORA_QEMU_TESTS=1 (which that script sets) or
 * the prerequisites the suites are skipped with the reason printed.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import type { OperationResult } from '@remora/agent-runner';
import { AgentRunner, OcfRc } from '@remora/agent-runner';
import type { DomainEvent, LibvirtConnection, PrivateLibvirtd } from '@remora/libvirt-launcher';
import {
  MigrationFailedError,
  launchGuest,
  privateLibvirtdSupport,
  qemuVm,
  stopGuest,
} from '@remora/libvirt-launcher';
import { describeUnless, executeOnGuest, useTestbed, waitConsole } from './guest-testbed';
import type { GuestKernel } from './qemu-guest';
import {
  GUEST_MODULES,
  IMAGE_REPO,
  guestScript,
  qemuPrerequisites,
  writeInitramfs,
  writeRemoraDiskImage,
} from './qemu-guest';

const support = privateLibvirtdSupport();
const pre = qemuPrerequisites();
const missing = !support.ok ? support.reason : !pre.ok ? pre.reason : '';
const reason =
  process.env.REMORA_QEMU_TESTS !== '1'
    ? 'not part of npm test (a software-emulated boot takes 10-60 s here): run ' +
      `npm run test:qemu --workspace @remora/libvirt-launcher${missing ? `; it also needs: ${missing}` : ''}`
    : missing;
const describeIf = describeUnless(reason, 'QEMU guest tests');

/** The package's agents (they run dist/, built by `npm run build`). */
const AGENTS = resolve(__dirname, '..', 'agents', 'remora');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** GET a path from the guest's httpd through a forwarded `unix:` address (or host:port). */
function httpGet(address: string, path: string): Promise<string> {
  const target = address.startsWith('unix:')
    ? { socketPath: address.slice('unix:'.length) }
    : { host: address.split(':')[0], port: Number(address.split(':')[1]) };
  return new Promise((res, rej) => {
    const req = request({ ...target, path, timeout: 10_000 }, (r) => {
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (d: string) => (body += d));
      r.on('end', () =>
        r.statusCode === 200 ? res(body.trim()) : rej(new Error(`${path}: HTTP ${r.statusCode}`)),
      );
    });
    req.on('timeout', () => req.destroy(new Error(`${path}: timed out`)));
    req.on('error', rej);
    req.end();
  });
}

/** `promise`, whose failure also shows the guest's console (what it printed before). */
async function showingConsole<T>(consoleLog: string, promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (err) {
    const text = await readFile(consoleLog, 'utf8').catch(() => '(no console log)');
    const tail = text
      .split('\n')
      .filter((l) => !l.startsWith('REMORA-GUEST-TICK'))
      .slice(-40)
      .join('\n');
    (err as Error).message += `\n--- guest console (without ticks) ---\n${tail}`;
    throw err;
  }
}

/** QEMU's own messages for a guest (its log without the command line). */
const qemuLogTail = (lv: PrivateLibvirtd, name: string): string =>
  '--- qemu log ---\n' +
  (lv
    .guestLogTail(name, 200)
    .split('\n')
    .filter((l) => !/^(-| {2}|[A-Z_]+=)/.test(l))
    .slice(-15)
    .join('\n') || '(no qemu log)');

/** The QEMU processes a private libvirtd runs. */
const qemuProcesses = (lv: PrivateLibvirtd): number[] =>
  lv.processes().filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('qemu-system');
    } catch {
      return false;
    }
  });

/** Collect a connection's events until `close()`. */
function recordEvents(conn: LibvirtConnection): {
  events: DomainEvent[];
  ready: Promise<void>;
  close: () => Promise<void>;
} {
  const stream = conn.events();
  const events: DomainEvent[] = [];
  const done = (async () => {
    for await (const e of stream) events.push(e);
  })().catch(() => undefined);
  return {
    events,
    ready: stream.ready,
    close: async () => {
      await stream.close();
      await done;
    },
  };
}

describeIf('a QEMU (TCG) guest through libvirt: boot, limits, live migration, shutdown', () => {
  const tb = useTestbed('qemu', [{}, {}]);
  let a: PrivateLibvirtd;
  let b: PrivateLibvirtd;
  let dir: string;
  let kernel: GuestKernel;
  let initrd: string;
  const token = randomBytes(6).toString('hex');
  const ip = '10.213.0.50';

  beforeAll(async () => {
    [a, b] = tb.daemons as [PrivateLibvirtd, PrivateLibvirtd];
    dir = tb.dir;
    kernel = pre.kernel!;
    initrd = join(dir, 'initrd.gz');
    await writeInitramfs(initrd, { kernel, modules: GUEST_MODULES, script: guestScript() });
  });

  const consoleLog = (): string => join(dir, 'vm1.console.log');

  it('boots Debian kernel + our initramfs under TCG, on the bridge, and changes limits live', async () => {
    const conn = a.connection('qemu');
    const xml = qemuVm({
      name: 'vm1',
      type: 'qemu',
      memoryMiB: 128,
      boot: {
        kernel: kernel.kernel,
        initrd,
        cmdline: `console=ttyS0 quiet panic=-1 remora.ip=${ip}/24 remora.token=${token}`,
      },
      interfaces: [{ bridge: 'br0' }],
      consoleLog: consoleLog(),
      limits: { memorySoftLimitMiB: 512, cpuShares: 1024 },
    });
    const t0 = Date.now();
    const { domain, startedMs } = await launchGuest({ connection: conn, xml });
    const booted = await waitConsole(
      consoleLog(),
      /REMORA-GUEST-BOOTED token=(\w+) uptime=([\d.]+)/,
      120_000,
      () => qemuLogTail(a, 'vm1'),
    );
    const bootMs = Date.now() - t0;
    console.log(
      `QEMU guest: libvirt start ${startedMs} ms, booted (console) ${bootMs} ms, guest uptime then ${booted[2]} s`,
    );
    expect(booted[1]).toBe(token);
    const info = await domain.info();
    expect(info).toMatchObject({ state: 'running', osType: 'hvm', persistent: true });
    expect(await domain.monitor()).toBe(OcfRc.SUCCESS);
    expect(qemuProcesses(a)).toHaveLength(1);
    expect(readFileSync(`/proc/${qemuProcesses(a)[0]}/cmdline`, 'utf8')).toContain('\0tcg\0');

    // the guest's httpd answers on the bridge side of daemon A
    const web = await a.forward(ip, 8080);
    expect(await httpGet(web, '/token')).toBe(token);

    // limits from the XML, then changed live (cgroup v1 cpu.shares of the VM)
    expect(await domain.limits()).toMatchObject({ memorySoftLimitMiB: 512, cpuShares: 1024 });
    await domain.setLimits({ cpuShares: 512, memorySoftLimitMiB: 256 });
    expect(await domain.limits()).toMatchObject({ memorySoftLimitMiB: 256, cpuShares: 512 });
    const cg = `/sys/fs/cgroup/cpu/machine/qemu-${info.id}-vm1.libvirt-qemu/cpu.shares`;
    expect(readFileSync(cg, 'utf8').trim()).toBe('512');
  }, 180_000);

  it('migrates the running guest live to another libvirtd; it keeps running there', async () => {
    const src = a.connection('qemu');
    const dst = b.connection('qemu');
    const domain = src.domain('vm1');
    const before = Number(
      (await httpGet(await a.forward(ip, 8080), '/cgi-bin/uptime')).split(' ')[0],
    );
    const srcEvents = recordEvents(src);
    const dstEvents = recordEvents(dst);
    await Promise.all([srcEvents.ready, dstEvents.ready]);

    // The daemons are in different network namespaces: the migration stream
    // goes over a Unix socket both QEMUs see.
    const t0 = Date.now();
    const moved = await domain.migrate(dst, {
      migrateUri: `unix://${join(dir, 'migrate.sock')}`,
      timeoutMs: 120_000,
    });
    const migrateMs = Date.now() - t0;
    console.log(
      `QEMU guest: live migration A -> B took ${migrateMs} ms (virsh migrate, end to end)`,
    );

    expect(await moved.state()).toEqual({ state: 'running', reason: 'migrated' });
    expect((await moved.info()).persistent).toBe(true);
    expect((await domain.state()).state).toBe('absent'); // --undefinesource
    expect(qemuProcesses(a)).toHaveLength(0);
    expect(qemuProcesses(b)).toHaveLength(1);

    // the same guest (same memory, not a reboot): same token, uptime went on,
    // reachable on the destination's bridge
    const web = await b.forward(ip, 8080);
    expect(await httpGet(web, '/token')).toBe(token);
    const after = Number((await httpGet(web, '/cgi-bin/uptime')).split(' ')[0]);
    expect(after).toBeGreaterThan(before);
    const text = await readFile(consoleLog(), 'utf8');
    expect(text.match(/REMORA-GUEST-BOOTED/g)).toHaveLength(1);

    await sleep(500);
    await Promise.all([srcEvents.close(), dstEvents.close()]);
    const summary = (es: DomainEvent[]): string[] =>
      es.filter((e) => e.domain === 'vm1').map((e) => `${e.event} ${e.detail}`);
    expect(summary(srcEvents.events)).toEqual(expect.arrayContaining(['Stopped Migrated']));
    expect(summary(dstEvents.events)).toEqual(
      expect.arrayContaining(['Started Migrated', 'Resumed Migrated']),
    );
  }, 180_000);

  it('a migration whose data address the source cannot reach fails clearly; the guest stays', async () => {
    const src = b.connection('qemu');
    const err = await src
      .domain('vm1')
      .migrate(a.connection('qemu'), { timeoutMs: 120_000 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationFailedError);
    expect((err as Error).message).toMatch(/unable to connect to server .*give migrateUri/);
    expect(await src.domain('vm1').state()).toMatchObject({ state: 'running' });
    expect(qemuProcesses(b)).toHaveLength(1);
  }, 180_000);

  it('the OCF agent ocf:remora:libvirt-guest migrates it back (migrate_to, migrate_from)', async () => {
    const ocf = join(dir, 'ocf');
    await mkdir(join(ocf, 'resource.d'), { recursive: true });
    await symlink(AGENTS, join(ocf, 'resource.d', 'remora'));
    const runner = new AgentRunner({ ocfRoot: ocf });
    const config = join(dir, 'vm1.xml');
    await writeFile(config, await b.connection('qemu').domain('vm1').xml());
    const run = (
      action: string,
      hypervisor: string,
      meta: Record<string, string> = {},
    ): Promise<OperationResult> =>
      runner.execute({
        resourceId: 'vm1',
        agent: 'ocf:remora:libvirt-guest',
        action,
        params: {
          config,
          hypervisor,
          remoteuri: a.uri('qemu'), // the target's URI (%n would be the target node's name)
          migrateuri: `unix://${join(dir, 'migrate-back.sock')}`,
        },
        meta,
        timeout: 120_000,
      });
    try {
      expect((await run('monitor', b.uri('qemu'))).rc).toBe(OcfRc.SUCCESS);
      expect((await run('monitor', a.uri('qemu'))).rc).toBe(OcfRc.NOT_RUNNING);
      const t0 = Date.now();
      const to = await run('migrate_to', b.uri('qemu'), { migrate_target: 'nodeA' });
      expect(to).toMatchObject({ rc: OcfRc.SUCCESS });
      expect((await run('migrate_from', a.uri('qemu'), { migrate_source: 'nodeB' })).rc).toBe(
        OcfRc.SUCCESS,
      );
      console.log(`QEMU guest: migrate_to + migrate_from (OCF agent) ${Date.now() - t0} ms`);
      expect((await run('stop', b.uri('qemu'))).rc).toBe(OcfRc.SUCCESS); // the source: nothing runs there
      expect((await run('monitor', b.uri('qemu'))).rc).toBe(OcfRc.NOT_RUNNING);
      expect((await run('monitor', a.uri('qemu'))).rc).toBe(OcfRc.SUCCESS);
      expect(qemuProcesses(b)).toHaveLength(0);
      expect(await httpGet(await a.forward(ip, 8080), '/token')).toBe(token);
    } finally {
      await runner.close();
    }
  }, 300_000);

  it('stops with an ACPI shutdown (the guest powers off by itself), leaving nothing behind', async () => {
    const domain = a.connection('qemu').domain('vm1');
    const stop = await stopGuest(domain, { timeoutMs: 60_000 });
    console.log(`QEMU guest: ACPI shutdown took ${stop.elapsedMs} ms`);
    expect(stop.how).toBe('shutdown');
    expect(await readFile(consoleLog(), 'utf8')).toContain('REMORA-GUEST-POWER-BUTTON');
    expect((await domain.state()).state).toBe('absent'); // transient after the agent's migration
    expect(qemuProcesses(a)).toHaveLength(0);
    expect(qemuProcesses(b)).toHaveLength(0);
  }, 120_000);
});

describeIf('remora remoted in a QEMU guest (host root over 9p)', () => {
  const tb = useTestbed('qemu-rd');

  it('boots a guest whose remora remoted answers an authenticated handshake and runs an OCF agent', async () => {
    const kernel = pre.kernel!;
    const initrd = join(tb.dir, 'initrd.gz');
    const remora = resolve(__dirname, '..', '..', 'cli', 'bin', 'remora.js');
    await writeInitramfs(initrd, {
      kernel,
      modules: GUEST_MODULES,
      script: guestScript({ remora, authKeyFile: tb.keyFile, nodeName: 'vm2', root: '9p' }),
    });
    const ip = '10.213.0.60';
    const consoleLog = join(tb.dir, 'vm2.console.log');
    const xml = qemuVm({
      name: 'vm2',
      type: 'qemu',
      memoryMiB: 512,
      boot: {
        kernel: kernel.kernel,
        initrd,
        cmdline: `console=ttyS0 quiet panic=-1 remora.ip=${ip}/24 remora.token=vm2`,
      },
      interfaces: [{ bridge: 'br0' }],
      shares: [{ source: '/', tag: 'hostroot' }],
      consoleLog,
    });
    const address = await tb.lv.forward(ip, 3121);
    const t0 = Date.now();
    const launched = await showingConsole(
      consoleLog,
      launchGuest({
        connection: tb.lv.connection('qemu'),
        xml,
        remote: { address, authKey: tb.key, connectTimeoutMs: 240_000 },
      }),
    );
    console.log(
      `QEMU guest with remoted: libvirt start ${launched.startedMs} ms, remoted ready ${launched.readyMs} ms (${Date.now() - t0} ms)`,
    );
    expect(launched.nodeName).toBe('vm2');
    const probe = { resourceId: 'probe', agent: 'ocf:heartbeat:Dummy', action: 'monitor' };
    expect((await executeOnGuest(address, tb.key, probe)).rc).toBe(OcfRc.NOT_RUNNING);

    // QEMU cannot migrate a guest with a mounted 9p share: said clearly, guest untouched
    const other = await tb.start({ network: false });
    try {
      const err = await launched.domain
        .migrate(other.connection('qemu'), {
          migrateUri: `unix://${join(tb.dir, 'migrate.sock')}`,
          timeoutMs: 60_000,
        })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MigrationFailedError);
      console.log(`QEMU guest with a 9p share: ${(err as Error).message}`);
    } finally {
      await other.stop();
    }
    expect((await launched.domain.state()).state).toBe('running');

    const stop = await stopGuest(launched.domain, { timeoutMs: 60_000 });
    expect(stop.how).toBe('shutdown');
    expect(await readFile(consoleLog, 'utf8')).toContain('remora remoted: serving vm2');
  }, 400_000);
});

describeIf('remoted in a QEMU guest with its own disk: live migration', () => {
  const tb = useTestbed('qemu-mig', [{}, {}]);
  const ip = '10.213.0.70';

  it('starts an agent in the guest, migrates the guest live, and the agent still runs there', async () => {
    const kernel = pre.kernel!;
    const [a, b] = tb.daemons as [PrivateLibvirtd, PrivateLibvirtd];
    const repoRoot = resolve(__dirname, '..', '..', '..');
    const remora = join(IMAGE_REPO, 'packages', 'cli', 'bin', 'remora.js');
    const authKeyFile = '/etc/remora/authkey';
    const image = join(tb.dir, 'remora.img');
    let t = Date.now();
    const imageBytes = await writeRemoraDiskImage(image, {
      repoRoot,
      authKey: tb.key,
      authKeyFile,
    });
    const imageMs = Date.now() - t;
    const initrd = join(tb.dir, 'initrd.gz');
    await writeInitramfs(initrd, {
      kernel,
      modules: GUEST_MODULES,
      script: guestScript({ remora, authKeyFile, nodeName: 'vm3', root: 'disk' }),
    });
    const consoleLog = join(tb.dir, 'vm3.console.log');
    const xml = qemuVm({
      name: 'vm3',
      type: 'qemu',
      memoryMiB: 384,
      boot: {
        kernel: kernel.kernel,
        initrd,
        cmdline: `console=ttyS0 quiet panic=-1 remora.ip=${ip}/24 remora.token=vm3`,
      },
      disks: [{ path: image, format: 'raw', readonly: true }],
      interfaces: [{ bridge: 'br0' }],
      consoleLog,
    });
    const launched = await showingConsole(
      consoleLog,
      launchGuest({
        connection: a.connection('qemu'),
        xml,
        remote: { address: await a.forward(ip, 3121), authKey: tb.key, connectTimeoutMs: 240_000 },
      }),
    );
    console.log(
      `QEMU guest with remoted from its disk (${(imageBytes / 2 ** 20).toFixed(0)} MiB image made in ${imageMs} ms): ` +
        `libvirt start ${launched.startedMs} ms, remoted ready ${launched.readyMs} ms`,
    );

    const start = await executeOnGuest(await a.forward(ip, 3121), tb.key, {
      resourceId: 'd1',
      agent: 'ocf:heartbeat:Dummy',
      action: 'start',
    });
    expect(start.rc).toBe(OcfRc.SUCCESS);

    t = Date.now();
    const moved = await launched.domain.migrate(b.connection('qemu'), {
      migrateUri: `unix://${join(tb.dir, 'migrate.sock')}`,
      timeoutMs: 180_000,
    });
    const migrateMs = Date.now() - t;
    expect(await moved.state()).toEqual({ state: 'running', reason: 'migrated' });

    // the same remoted, now behind the destination's bridge: the agent's state moved with the guest
    t = Date.now();
    const monitor = await executeOnGuest(await b.forward(ip, 3121), tb.key, {
      resourceId: 'd1',
      agent: 'ocf:heartbeat:Dummy',
      action: 'monitor',
    });
    expect(monitor.rc).toBe(OcfRc.SUCCESS);
    console.log(
      `QEMU guest with remoted: live migration ${migrateMs} ms, handshake + monitor on the destination ${Date.now() - t} ms`,
    );
    const text = await readFile(consoleLog, 'utf8');
    expect(text.match(/REMORA-GUEST-BOOTED/g)).toHaveLength(1);
    expect(text.match(/remora remoted: serving vm3/g)).toHaveLength(1);

    const stop = await stopGuest(moved, { timeoutMs: 60_000 });
    expect(stop.how).toBe('shutdown');
  }, 600_000);
});
