import { EventEmitter, on } from 'node:events';
import { md5, readIfExists, writeFileAtomic } from './atomic-file';
import type { CibDiffEntry } from './diff';
import { diffCib } from './diff';
import { cloneDocument } from './edit';
import { CibConflictError, CibError, CibStructureError } from './errors';
import type { Cib, CibVersion } from './model';
import { compareVersions, formatVersion, readCib } from './model';
import type { XmlDocument } from './xml';
import { parseXml, serializeXml } from './xml';

/** The file's digest (`<file>.sig`) does not match its content: it was changed or damaged outside the store. */
export class CibDigestError extends CibError {
  override name = 'CibDigestError';
  constructor(
    readonly file: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(
      `${file}: content does not match ${file}.sig (expected md5 ${expected}, found ${actual}); refusing to use a CIB changed outside remora — check it and delete the .sig to accept it`,
    );
  }
}

/** What a modification changed. */
export interface CibChange {
  readonly version: CibVersion;
  readonly previous: CibVersion;
  /** `configuration` bumps epoch (and resets num_updates); `status` bumps num_updates. */
  readonly scope: 'configuration' | 'status';
  /** Why (for logs), as given by the caller. */
  readonly reason: string;
  /** The element-level differences (computed on first call). */
  diff(): readonly CibDiffEntry[];
}

/**
 * Where a store keeps its CIB. The file backend is the default; a
 * distributed backend (e.g. etcd) implements the same two calls, and
 * callers of CibStore do not change.
 */
export interface CibBackend {
  /** The stored CIB, or undefined when there is none yet. */
  load(): Promise<string | undefined>;
  /** Store a new CIB durably before resolving; `previous` is what it replaces. */
  save(xml: string, previous: string): Promise<void>;
  /** Where, for messages. */
  readonly description: string;
}

/** A file with an md5 `.sig` beside it, replaced atomically and crash-safely. */
export class FileBackend implements CibBackend {
  constructor(readonly file: string) {}

  get description(): string {
    return this.file;
  }

  async load(): Promise<string | undefined> {
    const text = await readIfExists(this.file);
    if (text === undefined) return undefined;
    const sig = await readIfExists(`${this.file}.sig`);
    // While a write is in flight the .sig lists the new and the old digest; either is fine.
    const digests = (sig ?? '')
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    if (sig !== undefined && !digests.includes(md5(text)))
      throw new CibDigestError(this.file, digests[0] ?? '', md5(text));
    return text;
  }

  async save(xml: string, previous: string): Promise<void> {
    // First announce both digests, then replace the CIB, then keep only the
    // new digest: whatever step a crash interrupts, the file on disk matches
    // one of the listed digests.
    const next = md5(xml);
    await writeFileAtomic(`${this.file}.sig`, `${next}\n${md5(previous)}\n`);
    await writeFileAtomic(this.file, xml);
    await writeFileAtomic(`${this.file}.sig`, `${next}\n`);
  }
}

/** Keeps the CIB in memory only (tests, simulations, embedded demos). */
export class MemoryBackend implements CibBackend {
  readonly description = 'memory';
  constructor(private xml?: string) {}
  load(): Promise<string | undefined> {
    return Promise.resolve(this.xml);
  }
  save(xml: string): Promise<void> {
    this.xml = xml;
    return Promise.resolve();
  }
}

/** A previous version kept by the store. */
export interface CibHistoryEntry {
  readonly version: CibVersion;
  readonly xml: string;
  readonly reason: string;
}

export interface ModifyOptions {
  /** Which part changes: decides the version bump. Default `configuration`. */
  readonly scope?: 'configuration' | 'status';
  /** Fail with CibConflictError unless the current version is this one. */
  readonly expectVersion?: CibVersion;
  readonly reason?: string;
}

export interface CibStoreOptions {
  /** The CIB to create when the backend has none (default: an empty CIB). */
  readonly initial?: string;
  /** Previous versions kept in memory for `history()` (default 10). */
  readonly historySize?: number;
}

/** An empty CIB as Pacemaker creates one. */
export const EMPTY_CIB = `<cib crm_feature_set="3.16.2" validate-with="pacemaker-3.9" epoch="0" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config/>
    <nodes/>
    <resources/>
    <constraints/>
  </configuration>
  <status/>
</cib>
`;

/**
 * The embedded CIB store: one CIB document kept by a backend (a file with
 * atomic replace and an md5 `.sig` beside it, as Pacemaker does, by
 * default), versioned with admin_epoch/epoch/num_updates, modified through
 * functions applied to a copy (a modification that makes the CIB unreadable
 * is rejected and nothing changes), with a change feed and a bounded history.
 *
 * ```ts
 * await using store = await CibStore.open('/var/lib/remora/cib.xml');
 * await store.modify((doc) => setClusterProperty(doc, 'stonith-enabled', 'false'));
 * for await (const change of store.changes()) console.log(change.version, change.diff());
 * ```
 */
export class CibStore implements AsyncDisposable {
  private doc: XmlDocument;
  private model: Cib;
  private text: string;
  private readonly past: CibHistoryEntry[] = [];
  private readonly events = new EventEmitter();
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    readonly backend: CibBackend,
    doc: XmlDocument,
    text: string,
    private readonly historySize: number,
  ) {
    this.doc = doc;
    this.text = text;
    this.model = readCib(doc);
    this.events.setMaxListeners(0);
  }

  /**
   * Open a store on a file path (created with `initial` when missing), on a
   * backend, or in memory (`undefined`). A file changed outside the store
   * is refused with CibDigestError; an unreadable CIB with its parse error.
   */
  static async open(
    where: string | CibBackend | undefined,
    options: CibStoreOptions = {},
  ): Promise<CibStore> {
    const backend =
      where === undefined
        ? new MemoryBackend()
        : typeof where === 'string'
          ? new FileBackend(where)
          : where;
    const historySize = options.historySize ?? 10;
    const stored = await backend.load();
    if (stored !== undefined) {
      return new CibStore(
        backend,
        parseXml(stored, { source: backend.description }),
        stored,
        historySize,
      );
    }
    const text = options.initial ?? EMPTY_CIB;
    const doc = parseXml(text, { source: 'initial CIB' });
    readCib(doc);
    await backend.save(text, '');
    return new CibStore(backend, doc, text, historySize);
  }

  /** The typed model of the current CIB. */
  get cib(): Cib {
    return this.model;
  }

  get version(): CibVersion {
    return this.model.version;
  }

  /** The current CIB as XML text. */
  get xml(): string {
    return this.text;
  }

  /** A copy of the current document, safe to change. */
  document(): XmlDocument {
    return cloneDocument(this.doc);
  }

  /** Previous versions, oldest first (at most `historySize`). */
  history(): readonly CibHistoryEntry[] {
    return [...this.past];
  }

  /**
   * Apply a change. `edit` mutates a copy; the result must still read as a
   * CIB, else the store is unchanged and the error is thrown. Modifications
   * are serialized; each bumps the version once and is stored durably
   * before the promise resolves.
   */
  modify<T>(edit: (doc: XmlDocument) => T, options: ModifyOptions = {}): Promise<T> {
    const run = async (): Promise<T> => {
      if (this.closed) throw new CibError('the CIB store is closed');
      if (options.expectVersion && compareVersions(options.expectVersion, this.version) !== 0) {
        throw new CibConflictError(
          formatVersion(options.expectVersion),
          formatVersion(this.version),
        );
      }
      const draft = cloneDocument(this.doc);
      const result = edit(draft);
      const previous = this.version;
      const scope = options.scope ?? 'configuration';
      if (scope === 'configuration') {
        draft.root.attributes.set('epoch', String(previous.epoch + 1));
        draft.root.attributes.set('num_updates', '0');
      } else {
        draft.root.attributes.set('num_updates', String(previous.numUpdates + 1));
      }
      const model = readCib(draft);
      const text = serializeXml(draft);
      await this.backend.save(text, this.text);
      const before = this.doc;
      const reason = options.reason ?? '';
      this.past.push({ version: previous, xml: this.text, reason });
      if (this.past.length > this.historySize) this.past.shift();
      this.doc = draft;
      this.model = model;
      this.text = text;
      let diff: CibDiffEntry[] | undefined;
      const change: CibChange = {
        version: model.version,
        previous,
        scope,
        reason,
        diff: () => (diff ??= diffCib(before, draft)),
      };
      this.events.emit('change', change);
      return result;
    };
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Replace the whole CIB (e.g. `cibadmin --replace`); the new one must have a newer version unless `force`. */
  replace(
    xml: string,
    options: { readonly force?: boolean; readonly reason?: string } = {},
  ): Promise<void> {
    const doc = parseXml(xml, { source: 'replacement CIB' });
    const model = readCib(doc);
    return this.modify(
      (draft) => {
        if (!options.force && compareVersions(model.version, this.version) <= 0) {
          throw new CibStructureError(
            '/cib',
            `the replacement's version ${formatVersion(model.version)} is not newer than ${formatVersion(this.version)}`,
          );
        }
        draft.prolog = doc.prolog;
        draft.root = doc.root;
        draft.epilog = doc.epilog;
        // modify() bumps the epoch once more: start from the replacement's epoch - 1.
        draft.root.attributes.set('epoch', String(model.version.epoch - 1));
      },
      { reason: options.reason ?? 'replace' },
    );
  }

  /** Changes from now on, as an AsyncIterable (ends on close() or when the signal aborts). */
  changes(signal?: AbortSignal): AsyncIterable<CibChange> {
    const events = this.events;
    return {
      async *[Symbol.asyncIterator](): AsyncGenerator<CibChange> {
        const ac = new AbortController();
        const stop = (): void => ac.abort();
        signal?.addEventListener('abort', stop, { once: true });
        events.once('close', stop);
        try {
          for await (const [change] of on(events, 'change', { signal: ac.signal }))
            yield change as CibChange;
        } catch (err) {
          if ((err as Error).name !== 'AbortError') throw err;
        } finally {
          events.off('close', stop);
          signal?.removeEventListener('abort', stop);
        }
      },
    };
  }

  /** Wait for pending modifications, end change feeds. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.queue;
    this.closed = true;
    this.events.emit('close');
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
