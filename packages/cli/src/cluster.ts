import { hostname } from 'node:os';
import type { Cib } from '@remora/cib';
import type * as ControllerLib from '@remora/controller';
import type { Command } from 'commander';
import { CliError } from './errors';
import { ExitCode } from './exit-codes';
import { cibErrorToCli, cibFileFrom, readCibFile, storeKept } from './input';

/** Where the local daemon listens for CLI commands (`remora remoted --local-socket`). */
export const DEFAULT_SOCKET = '/run/remora/remoted.sock';

/** The options every cluster command takes to choose what it acts on. */
export interface ClusterOptions {
  readonly xmlFile?: string;
  readonly socket?: string;
}

/** Add `-x/--xml-file` and `--socket` to a command. */
export function clusterOptions(cmd: Command): Command {
  return cmd
    .option(
      '-x, --xml-file <file>',
      'act on this CIB file instead of the cluster (also: $CIB_file)',
    )
    .option(
      '--socket <path>',
      `the local daemon's socket (default $REMORA_SOCKET or ${DEFAULT_SOCKET})`,
    );
}

/** A snapshot of the cluster's CIB and who is asking. */
export interface ClusterSnapshot {
  readonly xml: string;
  readonly cib: Cib;
  /** The node this command runs on, as the cluster names it ('' when unknown). */
  readonly node: string;
}

/**
 * What a command acts on: a CIB file (offline, as Pacemaker's tools with
 * CIB_file), or the live cluster through the local daemon's socket (on a
 * cluster node and on a remote or guest node alike; the controller answers).
 */
export interface ClusterConnection {
  readonly mode: 'file' | 'cluster';
  query(): Promise<ClusterSnapshot>;
  edit(edit: ControllerLib.OperatorEdit): Promise<ControllerLib.OperatorEditResult>;
  /** Wait at most timeoutMs for the cluster to have nothing left to do; true when it has. */
  wait(timeoutMs: number): Promise<boolean>;
}

async function controllerLib(): Promise<typeof ControllerLib> {
  return import('@remora/controller');
}

async function parseCib(xml: string, source: string): Promise<Cib> {
  const lib = await import('@remora/cib');
  try {
    return lib.readCib(lib.parseXml(xml, { source }));
  } catch (err) {
    if (err instanceof lib.XmlSyntaxError)
      throw new CliError(err.message, ExitCode.DATAERR, { cause: err });
    if (err instanceof lib.CibError)
      throw new CliError(`${source}: ${err.message}`, ExitCode.CONFIG, { cause: err });
    throw err;
  }
}

/** The node name to act on offline when none is given: $REMORA_NODE, else the host name (as crm_attribute does). */
function localNodeName(): string {
  return process.env.REMORA_NODE || hostname().split('.')[0]!;
}

class FileCluster implements ClusterConnection {
  readonly mode = 'file' as const;
  constructor(private readonly file: string) {}

  async query(): Promise<ClusterSnapshot> {
    const xml = await readCibFile(this.file);
    return { xml, cib: await parseCib(xml, this.file), node: localNodeName() };
  }

  async edit(edit: ControllerLib.OperatorEdit): Promise<ControllerLib.OperatorEditResult> {
    if (this.file === '-')
      throw new CliError('cannot change a CIB read from stdin', ExitCode.USAGE);
    const xml = await readCibFile(this.file);
    const { version } = await parseCib(xml, this.file);
    const cibLib = await import('@remora/cib');
    const lib = await controllerLib();
    const doc = cibLib.parseXml(xml, { source: this.file });
    const apply = (d: typeof doc): ControllerLib.OperatorEditResult => {
      try {
        return lib.applyOperatorEdit(d, edit, { callerNode: localNodeName() });
      } catch (err) {
        if (err instanceof lib.OperatorError)
          throw new CliError(err.message, err.exitCode as ExitCode, { cause: err });
        throw err;
      }
    };
    const result = apply(doc);
    if (!result.changed) return result;
    if (storeKept(this.file)) {
      // A controller's file: written as its store writes it (journal replayed and
      // compacted, .sig kept), the version bumped by the store.
      try {
        const store = await cibLib.CibStore.open(this.file);
        try {
          await store.modify(apply, {
            scope: lib.editScope(edit),
            expectVersion: version,
            reason: `remora ${edit.command}`,
          });
        } finally {
          await store.close();
        }
      } catch (err) {
        if (err instanceof cibLib.CibConflictError)
          throw new CliError(
            `${this.file}: the CIB changed while this command ran (${err.message}); run it again`,
            ExitCode.ERROR,
            { cause: err },
          );
        throw await cibErrorToCli(err, this.file);
      }
      return result;
    }
    const root = doc.root.attributes;
    if (lib.editScope(edit) === 'configuration') {
      root.set('epoch', String(Number(root.get('epoch') ?? 0) + 1));
      root.set('num_updates', '0');
    } else root.set('num_updates', String(Number(root.get('num_updates') ?? 0) + 1));
    cibLib.readCib(doc);
    await cibLib.writeFileAtomic(this.file, cibLib.serializeXml(doc));
    return result;
  }

  wait(): Promise<boolean> {
    return Promise.reject(
      new CliError('waiting needs a running cluster, not a CIB file', ExitCode.UNIMPLEMENT_FEATURE),
    );
  }
}

class RelayCluster implements ClusterConnection {
  readonly mode = 'cluster' as const;
  constructor(private readonly socket: string) {}

  private async call<T>(command: string, args: unknown): Promise<T> {
    const lib = await import('@remora/remote-transport');
    let r: Awaited<ReturnType<typeof lib.relayCommand>>;
    try {
      r = await lib.relayCommand(command, args, { socket: this.socket });
    } catch (err) {
      if (err instanceof lib.TransportError)
        throw new CliError(
          `not connected to a cluster: no remora daemon answers on ${this.socket} (start \`remora remoted\`, or set CIB_file / use -x to work on a CIB file)`,
          ExitCode.DISCONNECT,
          { cause: err },
        );
      throw err;
    }
    if (r.exitCode !== 0) {
      const message = r.stderr.trim() || `the cluster answered with exit code ${r.exitCode}`;
      throw new CliError(
        r.exitCode === ExitCode.DISCONNECT ? `not connected to a cluster: ${message}` : message,
        r.exitCode as ExitCode,
      );
    }
    try {
      return JSON.parse(r.stdout) as T;
    } catch (err) {
      throw new CliError(`the cluster sent an answer that is not JSON`, ExitCode.SOFTWARE, {
        cause: err,
      });
    }
  }

  async query(): Promise<ClusterSnapshot> {
    const reply = await this.call<ControllerLib.QueryReply>('query', {});
    return { xml: reply.cib, cib: await parseCib(reply.cib, 'the cluster CIB'), node: reply.node };
  }

  edit(edit: ControllerLib.OperatorEdit): Promise<ControllerLib.OperatorEditResult> {
    return this.call(edit.command, edit);
  }

  async wait(timeoutMs: number): Promise<boolean> {
    const reply = await this.call<ControllerLib.WaitReply>('wait', { timeoutMs });
    return reply.idle;
  }
}

/** Pick what to act on: -x / $CIB_file, else the local daemon's socket. */
export function connectCluster(options: ClusterOptions): ClusterConnection {
  const file = cibFileFrom(options.xmlFile);
  if (file !== undefined) return new FileCluster(file);
  return new RelayCluster(options.socket ?? (process.env.REMORA_SOCKET || DEFAULT_SOCKET));
}

/**
 * Wait until the cluster has nothing left to do (at most timeoutMs), showing
 * progress on stderr once the wait passes one second. Exit code 124 when it
 * does not settle in time.
 */
export async function waitForCluster(
  cluster: ClusterConnection,
  timeoutMs: number,
  what = 'the cluster to settle',
): Promise<void> {
  const started = Date.now();
  const tty = process.stderr.isTTY === true;
  let shown = false;
  const progress = setInterval(() => {
    const s = Math.round((Date.now() - started) / 1000);
    if (tty) process.stderr.write(`\rwaiting for ${what}... ${s} s`);
    else if (!shown || s % 5 === 0) process.stderr.write(`waiting for ${what}... ${s} s\n`);
    shown = true;
  }, 1000);
  try {
    for (;;) {
      const left = timeoutMs - (Date.now() - started);
      if (left <= 0) break;
      if (await cluster.wait(left)) {
        if (shown)
          process.stderr.write(
            `${tty ? '\r' : ''}${what}: done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
          );
        return;
      }
    }
  } finally {
    clearInterval(progress);
  }
  if (shown && tty) process.stderr.write('\n');
  throw new CliError(
    `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`,
    ExitCode.TIMEOUT,
  );
}
