/**
 * The library against libvirt's test driver, served by a private libvirtd
 * the test starts (shared state while a connection is open, real events).
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { OperationResult } from '@remora/agent-runner';
import { AgentRunner, OcfRc } from '@remora/agent-runner';
import type { DomainEvent } from '@remora/libvirt-launcher';
import {
  DomainExistsError,
  DomainNotFoundError,
  DomainState,
  GuestTimeoutError,
  InvalidConfigError,
  InvalidDomainXmlError,
  LibvirtConnection,
  LibvirtError,
  LibvirtUnreachableError,
  MigrationUnsupportedError,
  PrivateLibvirtd,
  VirshNotFoundError,
  privateLibvirtdSupport,
} from '@remora/libvirt-launcher';

const support = privateLibvirtdSupport();
if (!support.ok) console.warn(`libvirt test-driver tests skipped: ${support.reason}`);
const describeIf = support.ok ? describe : describe.skip;

/** The package's agents (they run dist/, built by `npm run build`). */
const AGENTS = resolve(__dirname, '..', 'agents', 'remora');

const testDomain = (name: string, memoryKiB = 65536): string =>
  `<domain type='test'><name>${name}</name><memory unit='KiB'>${memoryKiB}</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>`;

describeIf('libvirt test driver through a private libvirtd', () => {
  let lv: PrivateLibvirtd;
  let conn: LibvirtConnection;
  let dir: string;

  beforeAll(async () => {
    lv = await PrivateLibvirtd.start({ network: false });
    conn = await LibvirtConnection.open({ uri: lv.uri('test') });
    dir = await mkdtemp(join(tmpdir(), 'remora-lvt-'));
  });

  afterAll(async () => {
    await conn?.close();
    await lv?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('defines, starts, reports state as OCF results, stops and undefines a domain', async () => {
    const dom = await conn.define(testDomain('lifecycle'));
    expect(await dom.state()).toEqual({ state: DomainState.SHUT_OFF, reason: 'unknown' });
    expect(await dom.monitor()).toBe(OcfRc.NOT_RUNNING);
    await dom.start();
    await dom.start(); // starting a running domain is not an error
    expect((await dom.state()).state).toBe(DomainState.RUNNING);
    expect(await dom.monitor()).toBe(OcfRc.SUCCESS);
    await dom.suspend();
    expect((await dom.state()).state).toBe(DomainState.PAUSED);
    expect(await dom.monitor()).toBe(OcfRc.SUCCESS); // as VirtualDomain: paused is running
    await dom.resume();
    const info = await dom.info();
    expect(info).toMatchObject({
      name: 'lifecycle',
      state: 'running',
      persistent: true,
      maxMemoryKiB: 65536,
    });
    expect((await conn.list()).map((d) => d.name)).toEqual(expect.arrayContaining(['lifecycle']));
    const stop = await dom.shutdown({ timeoutMs: 5000 });
    expect(stop.how).toBe('shutdown');
    expect(await dom.state()).toEqual({ state: DomainState.SHUT_OFF, reason: 'shutdown' });
    expect((await dom.shutdown()).how).toBe('already-stopped');
    expect(await dom.undefine()).toBe(true);
    expect(await dom.undefine()).toBe(false);
    expect((await dom.state()).state).toBe(DomainState.ABSENT);
    expect(await dom.monitor()).toBe(OcfRc.NOT_RUNNING);
  });

  it('creates transient domains that vanish when destroyed', async () => {
    const dom = await conn.create(testDomain('transient'));
    expect((await dom.info()).persistent).toBe(false);
    expect(await dom.destroy()).toBe(true);
    expect(await dom.destroy()).toBe(false);
    expect((await dom.state()).state).toBe(DomainState.ABSENT);
  });

  it('streams lifecycle events as an AsyncIterable', async () => {
    await using events = conn.events({ domain: 'evented' });
    await events.ready;
    const dom = await conn.define(testDomain('evented'));
    await dom.start();
    await dom.destroy();
    await dom.undefine();
    const seen: DomainEvent[] = [];
    for await (const e of events) {
      seen.push(e);
      if (e.event === 'Undefined') break;
    }
    expect(seen.map((e) => `${e.event} ${e.detail}`)).toEqual([
      'Defined Added',
      'Started Booted',
      'Stopped Destroyed',
      'Undefined Removed',
    ]);
    expect(seen.every((e) => e.domain === 'evented' && e.type === 'lifecycle')).toBe(true);
    expect(Math.abs(seen[0].at - Date.now())).toBeLessThan(60_000);
  });

  it('waits for a state, and says how long it waited when the state does not come', async () => {
    const dom = await conn.create(testDomain('waiter'));
    const paused = dom.waitForState([DomainState.PAUSED], { timeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 100));
    await dom.suspend();
    expect((await paused).state).toBe(DomainState.PAUSED);
    const err = await dom
      .waitForState([DomainState.SHUT_OFF], { timeoutMs: 300 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GuestTimeoutError);
    expect((err as Error).message).toMatch(
      /^waiter: still paused, wanted shut off \(waited \d+ ms\)/,
    );
    await dom.destroy();
  });

  it('ends an event stream with an error when libvirtd goes away', async () => {
    const other = await PrivateLibvirtd.start({ network: false });
    const stream = new LibvirtConnection({ uri: other.uri('test') }).events();
    await stream.ready;
    await other.stop();
    const err = await (async () => {
      for await (const _ of stream) {
        // no events expected
      }
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LibvirtError);
  });

  it('changes memory limits live and reads them back', async () => {
    const dom = await conn.create(testDomain('limited'));
    await dom.setLimits({ memoryHardLimitMiB: 256, memorySoftLimitMiB: 128 });
    expect(await dom.limits()).toMatchObject({ memoryHardLimitMiB: 256, memorySoftLimitMiB: 128 });
    await expect(dom.setLimits({ cpuShares: 1 })).rejects.toThrow('limits.cpuShares: must be >= 2');
    await expect(dom.setLimits({ memoryHardLimitMiB: 256, bogus: 1 } as never)).rejects.toThrow(
      /limits\.bogus: unknown limit/,
    );
    await dom.destroy();
  });

  it('defines a domain from a user-supplied XML file, as VirtualDomain does', async () => {
    const file = join(dir, 'user.xml');
    await writeFile(file, testDomain('from-file'));
    const dom = await conn.defineFile(file);
    expect(dom.name).toBe('from-file');
    expect(await dom.xml()).toContain('<name>from-file</name>');
    await dom.undefine();
  });

  it('reports invalid domain XML with libvirt message and where it came from', async () => {
    const file = join(dir, 'bad.xml');
    await writeFile(
      file,
      `<domain type='test'><name>bad</name><memory>1024</memory><os><type>hvm</type></os><bogus/></domain>`,
    );
    const err = await conn.defineFile(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidDomainXmlError);
    expect((err as InvalidDomainXmlError).source).toBe(file);
    expect((err as Error).message).toMatch(/failed to validate against schema.*bogus/s);
    await expect(
      conn.define(`<domain type='test'><name>x</name><memory>1</memory></domain>`),
    ).rejects.toThrow(/invalid domain XML \(x\): .*os <type> must be specified/);
    expect(() => conn.define('<network/>')).rejects.toThrow(InvalidConfigError);
  });

  it('refuses a second domain of the same name', async () => {
    const dom = await conn.define(testDomain('twin'));
    const err = await conn.define(testDomain('twin', 131072)).catch((e: unknown) => e);
    // libvirt redefines a persistent domain with the same UUID; a new one (another UUID) collides
    expect(err === undefined || err instanceof DomainExistsError).toBe(true);
    await dom.start();
    const again = await conn.create(testDomain('twin')).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(DomainExistsError);
    expect((again as DomainExistsError).domain).toBe('twin');
    expect((again as Error).message).toMatch(/domain 'twin' already exists/);
    await dom.destroy();
    await dom.undefine();
  });

  it('says migration is unsupported by the test driver', async () => {
    const dom = await conn.create(testDomain('mover'));
    const other = new LibvirtConnection({ uri: lv.uri('test') });
    const err = await dom.migrate(other).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationUnsupportedError);
    expect((err as Error).message).toMatch(
      /cannot migrate 'mover' .*not supported by this libvirt driver/,
    );
    await dom.destroy();
  });

  it('names a missing domain, an unreachable libvirtd and a missing virsh', async () => {
    await expect(conn.domain('nope').start()).rejects.toThrow(DomainNotFoundError);
    const away = new LibvirtConnection({
      uri: `test+unix:///default?socket=${join(dir, 'no-such-sock')}`,
    });
    const err = await away.check().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LibvirtUnreachableError);
    expect((err as Error).message).toMatch(/libvirt is unreachable at test\+unix.*no-such-sock/);
    const noVirsh = new LibvirtConnection({ uri: lv.uri('test'), virsh: '/nonexistent/virsh' });
    const missing = await noVirsh.check().catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(VirshNotFoundError);
    expect((missing as Error).message).toMatch(/Debian package libvirt-clients/);
    expect(() => new LibvirtConnection({ uri: 'not a uri' })).toThrow(
      /uri: expected a libvirt URI/,
    );
  });
});

describeIf(
  'the OCF agent ocf:remora:libvirt-guest run by @remora/agent-runner (test driver)',
  () => {
    let lv: PrivateLibvirtd;
    let conn: LibvirtConnection;
    let dir: string;
    let runner: AgentRunner;
    let params: Record<string, string>;
    const agent = 'ocf:remora:libvirt-guest';

    beforeAll(async () => {
      lv = await PrivateLibvirtd.start({ network: false });
      conn = await LibvirtConnection.open({ uri: lv.uri('test') }); // keeps the test driver's state alive
      dir = await mkdtemp(join(tmpdir(), 'remora-lvo-'));
      // An OCF root with the package's agents as provider "remora" (how a node ships them).
      await mkdir(join(dir, 'ocf', 'resource.d'), { recursive: true });
      await symlink(AGENTS, join(dir, 'ocf', 'resource.d', 'remora'));
      runner = new AgentRunner({ ocfRoot: join(dir, 'ocf') });
      await writeFile(join(dir, 'vm1.xml'), testDomain('vm1'));
      params = { config: join(dir, 'vm1.xml'), hypervisor: lv.uri('test') };
    });

    afterAll(async () => {
      await runner?.close();
      await conn?.close();
      await lv?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    const run = (
      action: string,
      extra: Record<string, string> = {},
      meta: Record<string, string> = {},
    ): Promise<OperationResult> =>
      runner.execute({
        resourceId: 'vm1',
        agent,
        action,
        params: { ...params, ...extra },
        meta,
        timeout: 20_000,
      });

    it('describes VirtualDomain-like parameters in its meta-data', async () => {
      const md = await runner.metaData(agent);
      expect(md.parameters.map((p) => p.name)).toEqual(
        expect.arrayContaining([
          'config',
          'hypervisor',
          'force_stop',
          'migration_transport',
          'migrateuri',
          'remoteuri',
          'remoted_address',
          'authkey',
        ]),
      );
      expect(md.parameters.find((p) => p.name === 'config')?.required).toBe(true);
    });

    it('starts, monitors and stops the guest from its config file', async () => {
      expect((await run('monitor')).rc).toBe(OcfRc.NOT_RUNNING); // probe
      expect((await run('start')).rc).toBe(OcfRc.SUCCESS);
      expect((await conn.domain('vm1').state()).state).toBe(DomainState.RUNNING);
      expect((await run('start')).rc).toBe(OcfRc.SUCCESS); // already running
      expect((await run('monitor', {}, {})).rc).toBe(OcfRc.SUCCESS);
      const stop = await run('stop');
      expect(stop.rc).toBe(OcfRc.SUCCESS);
      expect((await conn.domain('vm1').state()).state).toBe(DomainState.ABSENT);
      expect((await run('stop')).rc).toBe(OcfRc.SUCCESS); // stopping a stopped guest
      expect((await run('monitor')).rc).toBe(OcfRc.NOT_RUNNING);
    });

    it('destroys at once with force_stop', async () => {
      expect((await run('start')).rc).toBe(OcfRc.SUCCESS);
      expect((await run('stop', { force_stop: 'true' })).rc).toBe(OcfRc.SUCCESS);
      expect((await conn.domain('vm1').state()).state).toBe(DomainState.ABSENT);
    });

    it('fails migrate_to with a clear reason where the driver cannot migrate', async () => {
      expect((await run('start')).rc).toBe(OcfRc.SUCCESS);
      const r = await run('migrate_to', { remoteuri: lv.uri('test') }, { migrate_target: 'node2' });
      expect(r.rc).toBe(OcfRc.ERR_GENERIC);
      expect(r.exitReason).toMatch(/cannot migrate 'vm1'.*migration is not supported/);
      expect((await run('stop')).rc).toBe(OcfRc.SUCCESS);
    });

    it('answers bad configuration and an unreachable hypervisor with OCF error codes and reasons', async () => {
      const missing = await runner.execute({
        resourceId: 'x',
        agent,
        action: 'start',
        params: {},
        timeout: 20_000,
      });
      expect(missing.rc).toBe(OcfRc.ERR_CONFIGURED);
      expect(missing.exitReason).toBe('parameter config is required');
      const unreadable = await run('start', { config: join(dir, 'nope.xml') });
      expect(unreadable.rc).toBe(OcfRc.ERR_INSTALLED);
      expect(unreadable.exitReason).toMatch(/nope\.xml is not readable/);
      const away = await run('monitor', {
        hypervisor: `test+unix:///default?socket=${join(dir, 'no-sock')}`,
      });
      expect(away.rc).toBe(OcfRc.ERR_GENERIC);
      expect(away.exitReason).toMatch(/libvirt is unreachable/);
      expect((await run('promote')).rc).toBe(OcfRc.ERR_UNIMPLEMENTED);
    });
  },
);
