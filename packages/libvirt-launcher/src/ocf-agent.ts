/**
 * The OCF resource agent `ocf:remora:libvirt-guest` (shipped as
 * `agents/remora/libvirt-guest`): a guest as a cluster resource, with
 * `ocf:heartbeat:VirtualDomain`'s parameters, plus readiness of the guest's
 * `remora remoted` on start.
 */
import { readFile } from 'node:fs/promises';
import { OcfRc, parseDuration } from '@remora/agent-runner';
import { domainNameFromXml, LibvirtConnection } from './connection';
import type { Domain } from './domain';
import type { ShutdownMode } from './domain';
import { LibvirtError, VirshNotFoundError } from './errors';
import { DomainState, isActive } from './state';

const META_DATA = `<?xml version="1.0"?>
<resource-agent name="libvirt-guest" version="0.1">
  <version>1.1</version>
  <longdesc lang="en">
Manages a libvirt guest (LXC container or KVM/QEMU VM) from a domain XML file,
as ocf:heartbeat:VirtualDomain does: start creates it from the file, stop shuts
it down (signal mode for LXC) and destroys it after two thirds of the stop
timeout, monitor maps libvirt's state to OCF results, migrate_to moves it live
where the driver can. With remoted_address and authkey, start also waits until
the guest's remora remoted answers an authenticated handshake.
  </longdesc>
  <shortdesc lang="en">A libvirt guest (LXC or KVM/QEMU)</shortdesc>
  <parameters>
    <parameter name="config" required="1" unique="1">
      <longdesc lang="en">Absolute path of the domain XML file.</longdesc>
      <shortdesc lang="en">Domain XML file</shortdesc>
      <content type="string"/>
    </parameter>
    <parameter name="hypervisor">
      <longdesc lang="en">libvirt connection URI (lxc:///system, qemu:///system, test+unix:///default?socket=...). Default: LIBVIRT_DEFAULT_URI or qemu:///system.</longdesc>
      <shortdesc lang="en">Hypervisor URI</shortdesc>
      <content type="string"/>
    </parameter>
    <parameter name="force_stop">
      <longdesc lang="en">Destroy the guest on stop instead of shutting it down.</longdesc>
      <shortdesc lang="en">Always destroy on stop</shortdesc>
      <content type="boolean" default="false"/>
    </parameter>
    <parameter name="shutdown_mode">
      <longdesc lang="en">virsh shutdown --mode (signal, acpi, agent, initctl, paravirt). Default: signal on LXC, libvirt's choice elsewhere.</longdesc>
      <shortdesc lang="en">Shutdown mode</shortdesc>
      <content type="string"/>
    </parameter>
    <parameter name="migration_transport">
      <longdesc lang="en">Transport of the migration connection (ssh, tcp, tls, unix); the target URI is the hypervisor URI with the target node as host.</longdesc>
      <shortdesc lang="en">Migration transport</shortdesc>
      <content type="string"/>
    </parameter>
    <parameter name="migration_user">
      <longdesc lang="en">User in the migration target URI.</longdesc>
      <shortdesc lang="en">Migration user</shortdesc>
      <content type="string"/>
    </parameter>
    <parameter name="migration_network_suffix">
      <longdesc lang="en">Suffix added to the target node name in the migration URI (a dedicated migration network).</longdesc>
      <shortdesc lang="en">Migration network suffix</shortdesc>
      <content type="string"/>
    </parameter>
    <parameter name="remoteuri">
      <longdesc lang="en">The target's libvirt URI for migrate_to; %n is replaced by the target node name. Overrides migration_transport, migration_user and migration_network_suffix.</longdesc>
      <shortdesc lang="en">Target hypervisor URI</shortdesc>
      <content type="string"/>
    </parameter>
    <parameter name="migrateuri">
      <longdesc lang="en">Migration data URI (virsh migrate --migrateuri); %n is replaced by the target node name.</longdesc>
      <shortdesc lang="en">Migration URI</shortdesc>
      <content type="string"/>
    </parameter>
    <parameter name="migration_speed">
      <longdesc lang="en">Migration bandwidth limit, MiB/s (0 = unlimited).</longdesc>
      <shortdesc lang="en">Migration speed</shortdesc>
      <content type="integer" default="0"/>
    </parameter>
    <parameter name="migration_downtime">
      <longdesc lang="en">Maximum downtime during live migration, ms (0 = libvirt's default).</longdesc>
      <shortdesc lang="en">Migration downtime</shortdesc>
      <content type="integer" default="0"/>
    </parameter>
    <parameter name="migrate_options">
      <longdesc lang="en">More virsh migrate options, separated by spaces.</longdesc>
      <shortdesc lang="en">Extra migrate options</shortdesc>
      <content type="string"/>
    </parameter>
    <parameter name="remoted_address">
      <longdesc lang="en">host:port or unix:/path of the guest's remora remoted; with authkey, start succeeds only once it answers an authenticated handshake.</longdesc>
      <shortdesc lang="en">Guest remote daemon address</shortdesc>
      <content type="string"/>
    </parameter>
    <parameter name="authkey">
      <longdesc lang="en">The shared key file of the remote daemons.</longdesc>
      <shortdesc lang="en">Authkey file</shortdesc>
      <content type="string" default="/etc/pacemaker/authkey"/>
    </parameter>
    <parameter name="remote_connect_timeout">
      <longdesc lang="en">How long start waits for the guest's remote daemon (Pacemaker's remote-connect-timeout); default: the start timeout less 2 s.</longdesc>
      <shortdesc lang="en">Remote connect timeout</shortdesc>
      <content type="string"/>
    </parameter>
  </parameters>
  <actions>
    <action name="start" timeout="90s"/>
    <action name="stop" timeout="90s"/>
    <action name="monitor" timeout="30s" interval="10s" depth="0"/>
    <action name="status" timeout="30s"/>
    <action name="migrate_from" timeout="60s"/>
    <action name="migrate_to" timeout="120s"/>
    <action name="meta-data" timeout="5s"/>
    <action name="validate-all" timeout="5s"/>
  </actions>
</resource-agent>
`;

type Env = Readonly<Record<string, string | undefined>>;

class AgentFailure extends Error {
  constructor(
    readonly rc: OcfRc,
    reason: string,
  ) {
    super(reason);
  }
}

const param = (env: Env, name: string): string | undefined => {
  const v = env[`OCF_RESKEY_${name}`];
  return v === undefined || v === '' ? undefined : v;
};

const isTrue = (v: string | undefined): boolean => /^(1|yes|true|on|y)$/i.test(v ?? '');

function metaTimeoutMs(env: Env, fallback: number): number {
  const v = Number(env.OCF_RESKEY_CRM_meta_timeout);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

interface Context {
  readonly env: Env;
  readonly connection: LibvirtConnection;
  readonly config: string;
  readonly xml: string;
  readonly domain: Domain;
}

async function load(env: Env, probe: boolean): Promise<Context | OcfRc> {
  const config = param(env, 'config');
  if (!config) throw new AgentFailure(OcfRc.ERR_CONFIGURED, 'parameter config is required');
  let xml: string;
  try {
    xml = await readFile(config, 'utf8');
  } catch (err) {
    // As VirtualDomain: during a probe a missing config (unmounted shared storage) means "not running here".
    if (probe) return OcfRc.NOT_RUNNING;
    throw new AgentFailure(
      OcfRc.ERR_INSTALLED,
      `config ${config} is not readable: ${(err as Error).message}`,
    );
  }
  let name: string;
  try {
    name = domainNameFromXml(xml, config);
  } catch (err) {
    throw new AgentFailure(OcfRc.ERR_CONFIGURED, (err as Error).message);
  }
  const connection = new LibvirtConnection({ uri: param(env, 'hypervisor') });
  return { env, connection, config, xml, domain: connection.domain(name) };
}

async function start(ctx: Context): Promise<OcfRc> {
  const { state } = await ctx.domain.state();
  if (!isActive(state)) {
    // As VirtualDomain: a defined but stopped domain is undefined first, then created from the file.
    if (state !== DomainState.ABSENT) await ctx.domain.undefine();
    await ctx.connection.create(ctx.xml, { source: ctx.config });
  }
  const address = param(ctx.env, 'remoted_address');
  if (address) {
    const keyFile = param(ctx.env, 'authkey') ?? '/etc/pacemaker/authkey';
    let authKey: Buffer;
    try {
      authKey = await readFile(keyFile);
    } catch (err) {
      throw new AgentFailure(
        OcfRc.ERR_INSTALLED,
        `authkey ${keyFile} is not readable: ${(err as Error).message}`,
      );
    }
    const spec = param(ctx.env, 'remote_connect_timeout');
    const timeout = spec === undefined ? undefined : parseDuration(spec);
    if (spec !== undefined && timeout === undefined) {
      throw new AgentFailure(
        OcfRc.ERR_CONFIGURED,
        `remote_connect_timeout: not a duration: ${spec}`,
      );
    }
    // Loaded here: the gRPC client costs every other action ~0.1 s of start-up.
    const { waitForGuestReady } = await import('./launcher.js');
    await waitForGuestReady(ctx.domain, {
      address,
      authKey,
      connectTimeoutMs: timeout ?? Math.max(1000, metaTimeoutMs(ctx.env, 90_000) - 2000),
    });
  }
  return OcfRc.SUCCESS;
}

async function stop(ctx: Context): Promise<OcfRc> {
  if (isTrue(param(ctx.env, 'force_stop'))) {
    await ctx.domain.destroy();
  } else {
    await ctx.domain.shutdown({
      // As VirtualDomain: two thirds of the stop timeout for a clean shutdown, then destroy.
      timeoutMs: Math.floor((metaTimeoutMs(ctx.env, 90_000) * 2) / 3),
      mode: param(ctx.env, 'shutdown_mode') as ShutdownMode | undefined,
    });
  }
  const { state } = await ctx.domain.state();
  if (state === DomainState.SHUT_OFF) await ctx.domain.undefine();
  return OcfRc.SUCCESS;
}

/** The target's URI, as VirtualDomain builds it. */
export function migrationTargetUri(env: Env, hypervisor: string, target: string): string {
  const remote = param(env, 'remoteuri');
  if (remote) return remote.replace(/%n/g, target);
  const m = /^([a-z0-9]+)(?:\+[a-z]+)?:\/\/[^/]*(\/.*)$/.exec(hypervisor);
  if (!m)
    throw new AgentFailure(
      OcfRc.ERR_CONFIGURED,
      `cannot derive a migration URI from hypervisor ${hypervisor}`,
    );
  const transport = param(env, 'migration_transport');
  const user = param(env, 'migration_user');
  const host = `${user ? `${user}@` : ''}${target}${param(env, 'migration_network_suffix') ?? ''}`;
  return `${m[1]}${transport ? `+${transport}` : ''}://${host}${m[2]}`;
}

async function migrateTo(ctx: Context): Promise<OcfRc> {
  const target = ctx.env.OCF_RESKEY_CRM_meta_migrate_target;
  if (!target)
    throw new AgentFailure(
      OcfRc.ERR_CONFIGURED,
      'migrate_to without a migrate_target (OCF_RESKEY_CRM_meta_migrate_target)',
    );
  const dest = new LibvirtConnection({
    uri: migrationTargetUri(ctx.env, ctx.connection.uri, target),
  });
  const speed = Number(param(ctx.env, 'migration_speed') ?? 0);
  const downtime = Number(param(ctx.env, 'migration_downtime') ?? 0);
  await ctx.domain.migrate(dest, {
    live: true,
    persistent: false,
    undefineSource: false,
    migrateUri: param(ctx.env, 'migrateuri')?.replace(/%n/g, target),
    bandwidthMiBs: speed > 0 ? speed : undefined,
    maxDowntimeMs: downtime > 0 ? downtime : undefined,
    extraArgs: (param(ctx.env, 'migrate_options') ?? '').split(/\s+/).filter(Boolean),
    timeoutMs: metaTimeoutMs(ctx.env, 120_000),
  });
  return OcfRc.SUCCESS;
}

async function migrateFrom(ctx: Context): Promise<OcfRc> {
  const deadline = Date.now() + metaTimeoutMs(ctx.env, 60_000) - 1000;
  for (;;) {
    const rc = await ctx.domain.monitor();
    if (rc === OcfRc.SUCCESS) return rc;
    if (Date.now() > deadline)
      throw new AgentFailure(
        OcfRc.ERR_GENERIC,
        `${ctx.domain.name} is not running here after migration`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Run one action; returns the OCF rc and writes the exit reason to `log`. */
export async function runAgent(
  action: string,
  env: Env = process.env,
  log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): Promise<OcfRc> {
  try {
    if (action === 'meta-data') {
      process.stdout.write(META_DATA);
      return OcfRc.SUCCESS;
    }
    const known = [
      'start',
      'stop',
      'monitor',
      'status',
      'migrate_to',
      'migrate_from',
      'validate-all',
    ];
    if (!known.includes(action)) {
      log(`ocf-exit-reason:action ${action} is not implemented`);
      return OcfRc.ERR_UNIMPLEMENTED;
    }
    const probe =
      (action === 'monitor' || action === 'status') &&
      Number(env.OCF_RESKEY_CRM_meta_interval ?? 0) === 0;
    const ctx = await load(env, probe);
    if (typeof ctx === 'number') return ctx;
    if (action === 'validate-all') {
      await ctx.connection.run(['--version']).catch((err: unknown) => {
        if (err instanceof VirshNotFoundError)
          throw new AgentFailure(OcfRc.ERR_INSTALLED, err.message);
      });
      return OcfRc.SUCCESS;
    }
    switch (action) {
      case 'start':
        return await start(ctx);
      case 'stop':
        return await stop(ctx);
      case 'monitor':
      case 'status':
        return await ctx.domain.monitor();
      case 'migrate_to':
        return await migrateTo(ctx);
      default:
        return await migrateFrom(ctx);
    }
  } catch (err) {
    if (err instanceof AgentFailure) {
      log(`ocf-exit-reason:${err.message}`);
      return err.rc;
    }
    if (err instanceof VirshNotFoundError) {
      log(`ocf-exit-reason:${err.message}`);
      return OcfRc.ERR_INSTALLED;
    }
    log(
      `ocf-exit-reason:${err instanceof LibvirtError ? err.message : String((err as Error)?.message ?? err)}`,
    );
    return OcfRc.ERR_GENERIC;
  }
}
