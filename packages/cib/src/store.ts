import { EventEmitter, on } from 'node:events';
import { md5, readIfExists, writeFileAtomic } from './atomic-file';
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
}

export interface ModifyOptions {
  /** Which part changes: decides the version bump. Default `configuration`. */
  readonly scope?: 'configuration' | 'status';
  /** Fail with CibConflictError unless the current version is this one. */
  readonly expectVersion?: CibVersion;
  readonly reason?: string;
}

export interface CibStoreOptions {
  /** The CIB to create when the file does not exist (default: an empty CIB). */
  readonly initial?: string;
  /** Write to disk (default true); false keeps the CIB in memory only. */
  readonly persist?: boolean;
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
 * The embedded CIB store: one CIB document, persisted to a file with
 * atomic replace and an md5 `.sig` beside it (as Pacemaker does), versioned
 * with admin_epoch/epoch/num_updates, modified through functions applied to
 * a copy (a modification that makes the CIB unreadable is rejected and
 * nothing changes), with a change feed.
 *
 * ```ts
 * await using store = await CibStore.open('/var/lib/remora/cib.xml');
 * await store.modify((doc) => setClusterProperty(doc, 'stonith-enabled', 'false'));
 * for await (const change of store.changes()) console.log(change.version);
 * ```
 */
export class CibStore implements AsyncDisposable {
  private doc: XmlDocument;
  private model: Cib;
  private text: string;
  private readonly events = new EventEmitter();
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    readonly file: string | undefined,
    doc: XmlDocument,
    text: string,
  ) {
    this.doc = doc;
    this.text = text;
    this.model = readCib(doc);
    this.events.setMaxListeners(0);
  }

  /** Open (or create) a store on a file; `file` undefined = in memory. */
  static async open(file: string | undefined, options: CibStoreOptions = {}): Promise<CibStore> {
    if (file === undefined || options.persist === false) {
      const text = options.initial ?? EMPTY_CIB;
      return new CibStore(undefined, parseXml(text, { source: 'initial CIB' }), text);
    }
    let text = await readIfExists(file);
    if (text === undefined) {
      text = options.initial ?? EMPTY_CIB;
      const doc = parseXml(text, { source: 'initial CIB' });
      readCib(doc);
      await writeFileAtomic(file, text);
      await writeFileAtomic(`${file}.sig`, `${md5(text)}\n`);
      return new CibStore(file, doc, text);
    }
    const sig = await readIfExists(`${file}.sig`);
    // While a write is in flight the .sig lists the new and the old digest; either is fine.
    const digests = (sig ?? '')
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    if (sig !== undefined && !digests.includes(md5(text))) {
      throw new CibDigestError(file, digests[0] ?? '', md5(text));
    }
    return new CibStore(file, parseXml(text, { source: file }), text);
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

  /**
   * Apply a change. `edit` mutates a copy; the result must still read as a
   * CIB, else the store is unchanged and the error is thrown. Modifications
   * are serialized; each bumps the version once and is persisted before the
   * promise resolves.
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
      draft.root.attributes.set(
        'cib-last-written',
        new Date()
          .toUTCString()
          .replace(/^\w+, /, '')
          .replace(' GMT', ''),
      );
      const model = readCib(draft);
      const text = serializeXml(draft);
      await this.persist(text);
      this.doc = draft;
      this.model = model;
      this.text = text;
      this.events.emit('change', {
        version: model.version,
        previous,
        scope,
        reason: options.reason ?? '',
      } satisfies CibChange);
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
        // The version is bumped once more by modify: take the replacement's epoch as the base.
        draft.root.attributes.set('epoch', String(model.version.epoch - 1));
      },
      { reason: options.reason ?? 'replace' },
    );
  }

  /** Changes from now on, as an AsyncIterable (ends on close() or when the signal aborts). */
  changes(signal?: AbortSignal): AsyncIterable<CibChange> {
    const ac = new AbortController();
    const stop = (): void => ac.abort();
    signal?.addEventListener('abort', stop, { once: true });
    this.events.once('close', stop);
    const events = this.events;
    return {
      async *[Symbol.asyncIterator](): AsyncGenerator<CibChange> {
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

  private async persist(text: string): Promise<void> {
    if (this.file === undefined) return;
    // Crash-safe with the digest: first announce both digests, then replace
    // the CIB, then keep only the new digest. Whatever step a crash
    // interrupts, the file on disk matches one of the listed digests.
    const next = md5(text);
    await writeFileAtomic(`${this.file}.sig`, `${next}\n${md5(this.text)}\n`);
    await writeFileAtomic(this.file, text);
    await writeFileAtomic(`${this.file}.sig`, `${next}\n`);
  }
}
