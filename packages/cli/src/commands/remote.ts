import type * as TransportLib from '@remora/remote-transport';
import type { Command } from 'commander';
import { CliError } from '../errors';
import { ExitCode } from '../exit-codes';
import { collectPair, durationOption } from '../options';
import { reportOperationResult } from '../operation-result';
import { parseOutputFormat } from '../output';

/** The default authkey location (see authKeyPath in @remora/remote-transport). */
const DEFAULT_AUTHKEY = '/etc/remora/authkey';
const AUTHKEY_HELP = `shared key (default $REMORA_AUTHKEY, $PCMK_authkey_location or ${DEFAULT_AUTHKEY})`;

function authkeyPath(option: string | undefined): string {
  return (
    option || process.env.REMORA_AUTHKEY || process.env.PCMK_authkey_location || DEFAULT_AUTHKEY
  );
}

function collectList(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** A whole-number option within bounds, with an error naming the option. */
function intOption(option: string, value: string | undefined, min = 1): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+)\s*(k|ki|kib|m|mi|mib)?$/i.exec(value.trim());
  const unit = m?.[2]?.toLowerCase();
  const n = m
    ? Number(m[1]) * (unit?.startsWith('k') ? 1024 : unit?.startsWith('m') ? 1024 * 1024 : 1)
    : NaN;
  if (!Number.isSafeInteger(n) || n < min)
    throw new CliError(`${option}: '${value}' is not a whole number >= ${min}`, ExitCode.USAGE);
  return n;
}

async function transport(): Promise<typeof TransportLib> {
  return import('@remora/remote-transport');
}

async function loadKey(lib: typeof TransportLib, file: string): Promise<Buffer> {
  try {
    return await lib.readAuthKey(file);
  } catch (err) {
    if (err instanceof lib.ConfigurationError)
      throw new CliError(err.message, ExitCode.NOT_CONFIGURED, { cause: err });
    throw err;
  }
}

async function readTls(options: {
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsServerName?: string;
  clientCert?: boolean;
}): Promise<TransportLib.TlsOptions | undefined> {
  if (!options.tlsCa) {
    if (options.tlsCert || options.tlsKey)
      throw new CliError('--tls-cert/--tls-key need --tls-ca', ExitCode.USAGE);
    return undefined;
  }
  const { readFile } = await import('node:fs/promises');
  const read = async (f: string | undefined): Promise<Buffer | undefined> => {
    if (f === undefined) return undefined;
    try {
      return await readFile(f);
    } catch {
      throw new CliError(`cannot read ${f}`, ExitCode.NOINPUT);
    }
  };
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined))
    throw new CliError('--tls-cert and --tls-key go together', ExitCode.USAGE);
  return {
    ca: (await read(options.tlsCa))!,
    cert: await read(options.tlsCert),
    key: await read(options.tlsKey),
    ...(options.tlsServerName ? { serverName: options.tlsServerName } : {}),
    ...(options.clientCert === false ? { requireClientCertificate: false } : {}),
  };
}

interface RemotedOptions {
  readonly listen?: string[];
  readonly authkey?: string;
  readonly name?: string;
  readonly localSocket: string | false;
  readonly tlsCa?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly clientCert?: boolean;
  readonly ocfRoot?: string;
  readonly lsbRoot?: string;
  readonly maxConcurrent?: string;
  readonly defaultTimeout?: string;
  readonly outputTail?: string;
  readonly maxMessageSize?: string;
  readonly maxResources?: string;
  readonly maxQueued?: string;
  readonly maxConnections?: string;
  readonly logCapacity?: string;
  readonly heartbeat?: string;
  readonly authMaxFailures?: string;
  readonly authBlock?: string;
  readonly shutdownTimeout: string;
  readonly pidFile?: string;
  readonly verbose?: boolean;
}

/** `remora remoted`, `remora authkey generate`, `remora exec`. */
export function registerRemoteCommands(program: Command): void {
  program
    .command('remoted')
    .description(
      'run the remote daemon (pacemaker_remoted): the cluster runs agents on this node through it',
    )
    .option(
      '-l, --listen <address>',
      `host:port, [v6]:port, :port (IPv6 and IPv4) or unix:/path; repeatable (default [::]:${process.env.PCMK_remote_port ?? 3121}, port from $PCMK_remote_port)`,
      collectList,
    )
    .option('-k, --authkey <file>', AUTHKEY_HELP)
    .option('-n, --name <node>', 'node name to serve as (default: host name)')
    .option(
      '--local-socket <path>',
      'Unix socket for CLI commands on this node',
      '/run/remora/remoted.sock',
    )
    .option('--no-local-socket', 'no local socket (no CLI relay)')
    .option('--ocf-root <dir>', 'OCF root (agents in <dir>/resource.d/<provider>)', '/usr/lib/ocf')
    .option('--lsb-root <dir>', 'directory of LSB init scripts', '/etc/init.d')
    .option('--max-concurrent <n>', 'agent actions running at once (default 32)')
    .option('--default-timeout <duration>', 'timeout of operations that give none (default 20s)')
    .option('--output-tail <bytes>', 'bytes of stdout/stderr kept per operation (default 64KiB)')
    .option('--max-message-size <bytes>', 'largest message accepted (default 4MiB)')
    .option('--max-resources <n>', 'resources registered at once (default 10000)')
    .option('--max-queued <n>', 'one-shot operations queued or running at once (default 1000)')
    .option('--max-connections <n>', 'connections at once per listen address (default 4096)')
    .option('--log-capacity <n>', 'unacknowledged results kept for replay (default 10000)')
    .option('--heartbeat <duration>', 'heartbeat period on sessions (default 500ms)')
    .option(
      '--auth-max-failures <n>',
      'failed authentications per peer per minute before it is blocked (default 5)',
    )
    .option('--auth-block <duration>', 'how long a peer is blocked (default 60s)')
    .option(
      '--shutdown-timeout <duration>',
      'on SIGTERM, how long to wait for the controller to drain this node',
      '5min',
    )
    .option(
      '--tls-ca <file>',
      'site PKI: CA certificate (PEM) for mutual TLS instead of the authkey identity',
    )
    .option('--tls-cert <file>', 'site PKI: this daemon’s certificate (PEM)')
    .option('--tls-key <file>', 'site PKI: this daemon’s key (PEM)')
    .option(
      '--no-client-cert',
      'site PKI: do not require client certificates (calls are still signed with the authkey)',
    )
    .option('--pid-file <file>', 'write the process id there (removed on exit)')
    .option('-v, --verbose', 'log connections, sessions and drains (warnings are always logged)')
    .addHelpText(
      'after',
      '\nSignals: SIGTERM/SIGINT drain gracefully (the controller moves the resources away; a second signal exits at once).\n\nExample:\n  remora authkey generate -o /etc/remora/authkey\n  remora remoted --listen [::]:3121 --name guest1 --ocf-root /usr/lib/ocf',
    )
    .action(async (options: RemotedOptions) => {
      const lib = await transport();
      const { parseDuration } = await import('@remora/agent-runner');
      const duration = (option: string, v: string | undefined): number | undefined =>
        v === undefined ? undefined : durationOption(option, v, parseDuration);
      const { stat, writeFile, rm } = await import('node:fs/promises');
      for (const [option, dir] of [
        ['--ocf-root', options.ocfRoot],
        ['--lsb-root', options.lsbRoot],
      ] as const) {
        if (dir === undefined) continue;
        const st = await stat(dir).catch(() => undefined);
        if (!st?.isDirectory() && option === '--ocf-root')
          throw new CliError(`${option} ${dir}: not a directory`, ExitCode.NOT_CONFIGURED);
      }
      const authKey = await loadKey(lib, authkeyPath(options.authkey));
      const localSocket = options.localSocket === false ? undefined : options.localSocket;
      let daemon: TransportLib.RemoteDaemon;
      try {
        daemon = await lib.RemoteDaemon.start({
          listen: options.listen ?? [`[::]:${process.env.PCMK_remote_port ?? 3121}`],
          authKey,
          nodeName: options.name,
          localSocket,
          tls: await readTls(options),
          runner: {
            ocfRoot: options.ocfRoot,
            lsbRoot: options.lsbRoot,
            maxConcurrent: intOption('--max-concurrent', options.maxConcurrent),
            defaultTimeout: duration('--default-timeout', options.defaultTimeout),
            outputTailBytes: intOption('--output-tail', options.outputTail, 0),
          },
          heartbeatMs: duration('--heartbeat', options.heartbeat),
          logCapacity: intOption('--log-capacity', options.logCapacity),
          limits: {
            maxMessageBytes: intOption('--max-message-size', options.maxMessageSize, 1024),
            maxResources: intOption('--max-resources', options.maxResources),
            maxQueuedOperations: intOption('--max-queued', options.maxQueued),
            maxConnections: intOption('--max-connections', options.maxConnections),
          },
          authLimits: {
            maxFailures: intOption('--auth-max-failures', options.authMaxFailures),
            blockMs: duration('--auth-block', options.authBlock),
          },
          log: (e) => {
            if (e.level !== 'info' || options.verbose)
              process.stderr.write(
                `remora remoted: ${e.level === 'info' ? '' : `${e.level}: `}${e.message}\n`,
              );
          },
        });
      } catch (err) {
        if (err instanceof lib.ConfigurationError)
          throw new CliError(err.message, ExitCode.NOT_CONFIGURED, { cause: err });
        if (err instanceof lib.TransportError)
          throw new CliError(err.message, ExitCode.UNAVAILABLE, { cause: err });
        throw err;
      }
      const shutdownTimeoutMs = duration('--shutdown-timeout', options.shutdownTimeout)!;
      if (options.pidFile) await writeFile(options.pidFile, `${process.pid}\n`);
      process.stderr.write(
        `remora remoted: serving ${daemon.nodeName} on ${daemon.addresses.join(', ')}${localSocket ? ` (local socket ${localSocket})` : ''}\n`,
      );
      await new Promise<void>((resolve) => {
        let stopping = false;
        const stop = (signal: string): void => {
          if (stopping) {
            process.stderr.write(`remora remoted: ${signal} again, exiting now\n`);
            void daemon.close().then(resolve);
            return;
          }
          stopping = true;
          process.stderr.write(`remora remoted: ${signal}, shutting down\n`);
          void daemon.shutdown({ timeoutMs: shutdownTimeoutMs }).then((outcome) => {
            process.stderr.write(
              `remora remoted: stopped (${
                {
                  'no-controller': 'no controller connected',
                  refused: 'the controller does not manage this node',
                  drained: 'the controller drained this node',
                  timeout: `the drain took longer than ${options.shutdownTimeout}`,
                }[outcome]
              })\n`,
            );
            resolve();
          });
        };
        process.on('SIGTERM', () => stop('SIGTERM'));
        process.on('SIGINT', () => stop('SIGINT'));
      });
      if (options.pidFile) await rm(options.pidFile, { force: true });
    });

  program
    .command('authkey')
    .description('manage the shared key of the remote daemons')
    .command('generate')
    .option('-o, --output <file>', 'where to write it (mode 0400)', DEFAULT_AUTHKEY)
    .option('-f, --force', 'replace an existing key')
    .description('write a new random authkey (4096 bytes), to copy to every node and guest')
    .addHelpText('after', '\nExample:\n  remora authkey generate -o /etc/remora/authkey')
    .action(async (options: { output: string; force?: boolean }) => {
      const lib = await transport();
      const { mkdir } = await import('node:fs/promises');
      const { dirname } = await import('node:path');
      await mkdir(dirname(options.output), { recursive: true });
      try {
        await lib.writeAuthKey(options.output, lib.generateAuthKey(), options.force ?? false);
      } catch (err) {
        if (err instanceof lib.ConfigurationError)
          throw new CliError(err.message, ExitCode.ERROR, { cause: err });
        throw err;
      }
      process.stderr.write(`wrote ${options.output} (4096 bytes, mode 0400)\n`);
    });

  program
    .command('exec')
    .argument('<agent>', 'agent, e.g. ocf:heartbeat:Dummy')
    .argument('<action>', 'start, stop, monitor, ...')
    .requiredOption('-a, --address <host:port>', 'the remote daemon')
    .option('-k, --authkey <file>', AUTHKEY_HELP)
    .option('--tls-ca <file>', 'site PKI: CA of the daemon certificate (PEM)')
    .option('--tls-cert <file>', 'site PKI: our client certificate (PEM)')
    .option('--tls-key <file>', 'site PKI: our client key (PEM)')
    .option('--tls-server-name <name>', 'site PKI: the name in the daemon certificate')
    .option('-p, --param <name=value>', 'instance parameter (repeatable)', collectPair)
    .option('-m, --meta <name=value>', 'meta attribute (repeatable)', collectPair)
    .option('-r, --resource <id>', 'resource id', 'remora-cli')
    .option('-t, --timeout <duration>', 'operation timeout', '20s')
    .option('--connect-timeout <duration>', 'how long to try to connect', '10s')
    .option('--output-as <format>', 'text or json', 'text')
    .description(
      "run one agent action on a remote node through its daemon; exits with the agent's rc",
    )
    .addHelpText(
      'after',
      '\nExample:\n  remora exec -a guest1:3121 ocf:heartbeat:Dummy start -p state=/run/d.state',
    )
    .action(
      async (
        spec: string,
        action: string,
        options: {
          address: string;
          authkey?: string;
          param?: Record<string, string>;
          meta?: Record<string, string>;
          resource: string;
          timeout: string;
          connectTimeout: string;
          outputAs: string;
          tlsCa?: string;
          tlsCert?: string;
          tlsKey?: string;
          tlsServerName?: string;
        },
      ) => {
        const format = parseOutputFormat(options.outputAs);
        const lib = await transport();
        const { parseDuration, ocfRcName } = await import('@remora/agent-runner');
        const timeout = durationOption('--timeout', options.timeout, parseDuration);
        const connectTimeoutMs = durationOption(
          '--connect-timeout',
          options.connectTimeout,
          parseDuration,
        );
        const authKey = await loadKey(lib, authkeyPath(options.authkey));
        let client: TransportLib.RemoteClient;
        try {
          client = await lib.RemoteClient.connect({
            address: options.address,
            authKey,
            tls: await readTls(options),
            connectTimeoutMs,
            reconnect: true,
            role: 'tool',
            clientName: 'remora exec',
          });
        } catch (err) {
          if (err instanceof lib.AuthenticationError)
            throw new CliError(err.message, ExitCode.INSUFFICIENT_PRIV, { cause: err });
          if (err instanceof lib.TransportError)
            throw new CliError(err.message, ExitCode.DISCONNECT, { cause: err });
          throw err;
        }
        try {
          const r = await client.execute({
            resourceId: options.resource,
            agent: spec,
            action,
            params: options.param,
            meta: options.meta,
            timeout,
          });
          reportOperationResult(r, format, ocfRcName, client.nodeName);
        } catch (err) {
          if (err instanceof lib.TransportError)
            throw new CliError(err.message, ExitCode.INVALID_PARAM, { cause: err });
          throw err;
        } finally {
          await client.close();
        }
      },
    );
}
