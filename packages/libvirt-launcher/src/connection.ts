import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FailureContext } from './classify';
import { errorFor, libvirtMessage } from './classify';
import { Domain } from './domain';
import { InvalidConfigError, InvalidDomainXmlError, LibvirtError } from './errors';
import type { DomainEvent } from './events';
import { DomainEventStream } from './events';
import type { DomainState } from './state';
import { parseDomState } from './state';
import { runVirsh } from './virsh';

export interface LibvirtConnectionOptions {
  /**
   * Connection URI: `qemu:///system`, `lxc:///system`, `test:///default`,
   * with socket parameters for a private daemon
   * (`lxc:///system?socket=/run/x/libvirt-sock`). Default
   * `$LIBVIRT_DEFAULT_URI`, else `qemu:///system`.
   */
  readonly uri?: string;
  /** The virsh program (default `virsh`, from Debian's libvirt-clients). */
  readonly virsh?: string;
  /** Timeout of one virsh command, ms (default 30,000). */
  readonly commandTimeoutMs?: number;
}

/** One line of `virsh list --all`. */
export interface DomainSummary {
  readonly name: string;
  /** The running domain's id (for LXC the init's host PID), undefined when shut off. */
  readonly id?: number;
  readonly state: DomainState;
}

export interface RunOptions {
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
  readonly input?: string;
  /** How to name a failure (which domain, which XML). */
  readonly context?: FailureContext;
}

export interface DefineOptions {
  /** Validate against libvirt's schema first (`--validate`, default true). */
  readonly validate?: boolean;
  /** Where the XML came from, for error messages (default: the domain name). */
  readonly source?: string;
  readonly signal?: AbortSignal;
}

export interface CreateOptions extends DefineOptions {
  /** Create it paused. */
  readonly paused?: boolean;
}

/** The `<name>` of a domain XML (the first `<name>` element under `<domain>`). */
export function domainNameFromXml(xml: string, source = 'domain XML'): string {
  const body = xml.replace(/<!--[\s\S]*?-->/g, '');
  const m = /<domain\b[^>]*>[\s\S]*?<name>\s*([^<]+?)\s*<\/name>/.exec(body);
  if (!m) {
    throw new InvalidConfigError(
      source,
      'no <domain> element with a <name> child: not a libvirt domain XML',
    );
  }
  return m[1]
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

/**
 * A libvirt connection, driven through `virsh -c <uri>`. Cheap to create:
 * every method runs one virsh command. For libvirt's test driver served by
 * a daemon (`test+unix://...`), whose state lives only while a client is
 * connected, `open()` keeps one connection open until `close()`.
 *
 * ```ts
 * await using conn = await LibvirtConnection.open({ uri: 'lxc:///system' });
 * const guest = await conn.define(lxcContainer({ ... }));
 * await guest.start();
 * ```
 */
export class LibvirtConnection implements AsyncDisposable {
  readonly uri: string;
  readonly virsh: string;
  readonly commandTimeoutMs: number;
  private holder: DomainEventStream | undefined;

  constructor(options: LibvirtConnectionOptions = {}) {
    const uri = options.uri ?? process.env.LIBVIRT_DEFAULT_URI ?? 'qemu:///system';
    if (typeof uri !== 'string' || !/^[a-z][a-z0-9+]*:\/\//.test(uri)) {
      throw new InvalidConfigError(
        'uri',
        `expected a libvirt URI like lxc:///system or test:///default, got ${JSON.stringify(uri)}`,
      );
    }
    this.uri = uri;
    this.virsh = options.virsh ?? 'virsh';
    this.commandTimeoutMs = options.commandTimeoutMs ?? 30_000;
  }

  /**
   * Connect and check that libvirt answers (throws VirshNotFoundError or
   * LibvirtUnreachableError otherwise). Keeps a connection open for the
   * test driver (see the class comment); close() releases it.
   */
  static async open(
    options: LibvirtConnectionOptions = {},
    signal?: AbortSignal,
  ): Promise<LibvirtConnection> {
    const conn = new LibvirtConnection(options);
    await conn.check(signal);
    if (conn.driver === 'test') {
      conn.holder = new DomainEventStream(conn.virsh, conn.uri, () => false, signal);
      await conn.holder.ready;
    }
    return conn;
  }

  /** The hypervisor driver: `lxc`, `qemu`, `test`, `xen`, ... (the URI's scheme before `+`). */
  get driver(): string {
    return this.uri.split(':')[0].split('+')[0];
  }

  /** Run `virsh -c <uri> <args>`; returns stdout, throws the package's named errors. */
  async run(args: readonly string[], options: RunOptions = {}): Promise<string> {
    const out = await runVirsh({
      virsh: this.virsh,
      uri: this.uri,
      args,
      timeoutMs: options.timeoutMs ?? this.commandTimeoutMs,
      signal: options.signal,
      input: options.input,
    });
    if (out.exitCode === 0 && !out.timedOut && !out.aborted) return out.stdout;
    if (out.aborted) throw new LibvirtError(`virsh ${args.join(' ')} (${this.uri}): aborted`);
    if (out.timedOut) {
      throw new LibvirtError(
        `virsh ${args.join(' ')} (${this.uri}): no answer within ${options.timeoutMs ?? this.commandTimeoutMs} ms`,
      );
    }
    throw errorFor(
      { uri: this.uri, args, exitCode: out.exitCode, libvirtMessage: libvirtMessage(out.stderr) },
      options.context ?? { kind: 'command' },
    );
  }

  /** Check libvirt answers; returns the canonical URI. */
  async check(signal?: AbortSignal): Promise<string> {
    return (await this.run(['uri'], { signal })).trim();
  }

  /** Define a persistent domain from XML (not started). Throws InvalidDomainXmlError or DomainExistsError. */
  async define(xml: string, options: DefineOptions = {}): Promise<Domain> {
    const name = domainNameFromXml(xml, options.source);
    await this.withXmlFile(xml, (file) =>
      this.run(['define', ...((options.validate ?? true) ? ['--validate'] : []), file], {
        signal: options.signal,
        context: { kind: 'define', source: options.source ?? name, domain: name },
      }),
    );
    return new Domain(this, name);
  }

  /** Define from a domain XML file (as VirtualDomain's `config`). */
  async defineFile(path: string, options: Omit<DefineOptions, 'source'> = {}): Promise<Domain> {
    return this.define(await this.readXml(path), { ...options, source: path });
  }

  /** Create and start a transient domain (gone from libvirt once it stops). */
  async create(xml: string, options: CreateOptions = {}): Promise<Domain> {
    const name = domainNameFromXml(xml, options.source);
    await this.withXmlFile(xml, (file) =>
      this.run(
        [
          'create',
          ...((options.validate ?? true) ? ['--validate'] : []),
          ...(options.paused ? ['--paused'] : []),
          file,
        ],
        {
          signal: options.signal,
          context: { kind: 'define', source: options.source ?? name, domain: name },
        },
      ),
    );
    return new Domain(this, name);
  }

  /** Create and start a transient domain from a file. */
  async createFile(path: string, options: Omit<CreateOptions, 'source'> = {}): Promise<Domain> {
    return this.create(await this.readXml(path), { ...options, source: path });
  }

  /** virsh reads domain XML from a file (not from a pipe or socket): a private temp file. */
  private async withXmlFile<T>(xml: string, use: (file: string) => Promise<T>): Promise<T> {
    const dir = await mkdtemp(join(tmpdir(), 'remora-virsh-'));
    try {
      const file = join(dir, 'domain.xml');
      await writeFile(file, xml, { mode: 0o600 });
      return await use(file);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private async readXml(path: string): Promise<string> {
    try {
      return await readFile(path, 'utf8');
    } catch (err) {
      throw new InvalidDomainXmlError(
        { uri: this.uri, args: [], exitCode: null, libvirtMessage: (err as Error).message },
        path,
        { cause: err },
      );
    }
  }

  /** A handle on a domain by name (nothing is checked until it is used). */
  domain(name: string): Domain {
    return new Domain(this, name);
  }

  /** Every domain, running or defined. */
  async list(signal?: AbortSignal): Promise<DomainSummary[]> {
    const out = await this.run(['list', '--all'], { signal });
    const domains: DomainSummary[] = [];
    for (const line of out.split('\n')) {
      const m = /^\s*(\d+|-)\s+(\S+)\s+(.+?)\s*$/.exec(line);
      if (!m) continue;
      domains.push({
        name: m[2],
        id: m[1] === '-' ? undefined : Number(m[1]),
        state: parseDomState(m[3]).state,
      });
    }
    return domains;
  }

  /**
   * Domain events (lifecycle and others) from now on, as an AsyncIterable;
   * `await stream.ready` before acting if you must not miss the first one.
   */
  events(
    options: { readonly domain?: string; readonly signal?: AbortSignal } = {},
  ): DomainEventStream {
    const filter =
      options.domain === undefined
        ? undefined
        : (e: DomainEvent): boolean => e.domain === options.domain;
    return new DomainEventStream(this.virsh, this.uri, filter, options.signal);
  }

  /** Release the connection kept open by open() (idempotent). */
  async close(): Promise<void> {
    const holder = this.holder;
    this.holder = undefined;
    await holder?.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
