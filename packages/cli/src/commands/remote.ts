import type * as TransportLib from '@remora/remote-transport';
import type { Command } from 'commander';
import { CliError } from '../errors';
import { ExitCode } from '../exit-codes';
import { collectPair, durationOption } from '../options';
import { reportOperationResult } from '../operation-result';
import { parseOutputFormat } from '../output';

/** pacemaker_remote's default authkey location (also read from PCMK_authkey_location). */
const DEFAULT_AUTHKEY = '/etc/pacemaker/authkey';

function authkeyPath(option: string | undefined): string {
  return (
    option ?? process.env.REMORA_AUTHKEY ?? process.env.PCMK_authkey_location ?? DEFAULT_AUTHKEY
  );
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
  return {
    ca: (await read(options.tlsCa))!,
    cert: await read(options.tlsCert),
    key: await read(options.tlsKey),
  };
}

interface RemotedOptions {
  readonly listen: string;
  readonly authkey?: string;
  readonly name?: string;
  readonly localSocket: string;
  readonly tlsCa?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
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
      'host:port or unix:/path (port from PCMK_remote_port)',
      `0.0.0.0:${process.env.PCMK_remote_port ?? 3121}`,
    )
    .option(
      '-k, --authkey <file>',
      `shared key (default $REMORA_AUTHKEY, $PCMK_authkey_location or ${DEFAULT_AUTHKEY})`,
    )
    .option('-n, --name <node>', 'node name to serve as (default: host name)')
    .option(
      '--local-socket <path>',
      'Unix socket for CLI commands on this node',
      '/run/remora/remoted.sock',
    )
    .option('--tls-ca <file>', 'CA certificate (PEM); enables TLS')
    .option('--tls-cert <file>', 'server certificate (PEM)')
    .option('--tls-key <file>', 'server key (PEM)')
    .addHelpText(
      'after',
      '\nExample:\n  remora authkey generate -o /etc/pacemaker/authkey\n  remora remoted --listen 0.0.0.0:3121 --name guest1',
    )
    .action(async (options: RemotedOptions) => {
      const lib = await transport();
      const authKey = await loadKey(lib, authkeyPath(options.authkey));
      let daemon: TransportLib.RemoteDaemon;
      try {
        daemon = await lib.RemoteDaemon.start({
          listen: options.listen,
          authKey,
          nodeName: options.name,
          localSocket: options.localSocket,
          tls: await readTls(options),
        });
      } catch (err) {
        if (err instanceof lib.TransportError)
          throw new CliError(err.message, ExitCode.UNAVAILABLE, { cause: err });
        throw err;
      }
      process.stderr.write(
        `remora remoted: serving ${daemon.nodeName} on ${daemon.address} (local socket ${options.localSocket})\n`,
      );
      await new Promise<void>((resolve) => {
        const stop = (signal: string): void => {
          process.stderr.write(`remora remoted: ${signal}, stopping\n`);
          resolve();
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
      await daemon.close();
    });

  program
    .command('authkey')
    .description('manage the shared key of the remote daemons')
    .command('generate')
    .option('-o, --output <file>', 'where to write it (mode 0400)', DEFAULT_AUTHKEY)
    .option('-f, --force', 'replace an existing key')
    .description('write a new random authkey (4096 bytes), to copy to every node and guest')
    .addHelpText('after', '\nExample:\n  remora authkey generate -o /etc/pacemaker/authkey')
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
    .option(
      '-k, --authkey <file>',
      `shared key (default $REMORA_AUTHKEY, $PCMK_authkey_location or ${DEFAULT_AUTHKEY})`,
    )
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
            connectTimeoutMs,
            reconnect: true,
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
