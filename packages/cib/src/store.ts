import { EventEmitter, on } from 'node:events';
import type { FileHandle } from 'node:fs/promises';
import { open as openFile } from 'node:fs/promises';
import { md5, readIfExists, writeFileAtomic } from './atomic-file';
import type { CibDiffEntry } from './diff';
import { diffCib } from './diff';
import { produce } from './draft';
import { cloneDocument } from './edit';
import { CibConflictError, CibError, CibStructureError } from './errors';
import type { Cib, CibVersion, ReadCache } from './model';
import { compareVersions, formatVersion, newReadCache, readCib, readCibCached } from './model';
import type { DocumentPatch } from './patch';
import { CibPatchError, applyPatch, makePatch } from './patch';
import type { XmlDocument, XmlNode } from './xml';
import { parseXml, serializeXmlCached } from './xml';

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

/** A journal record that is damaged (not a torn last write) or does not follow the CIB it belongs to. */
export class CibJournalError extends CibError {
  override name = 'CibJournalError';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly detail: string,
  ) {
    super(
      `${file}:${line}: ${detail}; refusing to guess what the CIB was — move the journal away to start from the CIB file alone`,
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
  /** The element-level differences (computed on first call; unchanged subtrees are skipped). */
  diff(): readonly CibDiffEntry[];
}

/**
 * Where a store keeps its CIB. The file backend is the default; a
 * distributed backend (e.g. etcd) implements the same calls, and callers
 * of CibStore do not change.
 */
export interface CibBackend {
  /**
   * The stored CIB, or undefined when there is none yet; with a journal,
   * also the records appended since that CIB was saved, oldest first.
   */
  load(): Promise<string | undefined | StoredCib>;
  /** Store a new CIB durably before resolving; `previous` is what was last saved. The journal starts anew. */
  save(xml: string, previous: string): Promise<void>;
  /**
   * Optional: append a record (one status update's patch, a single line of
   * text) durably before resolving. A backend without it gets a full save()
   * for every modification.
   */
  append?(record: string): Promise<void>;
  /** Optional: release what the backend holds open (after the store's last write). */
  close?(): Promise<void>;
  /** Where, for messages. */
  readonly description: string;
}

/** A stored CIB and the journal records that follow it. */
export interface StoredCib {
  readonly xml: string;
  readonly journal: readonly string[];
}

const JOURNAL_MAGIC = 'remora-cib-journal 1';

/**
 * A file with an md5 `.sig` beside it, replaced atomically and crash-safely,
 * in Pacemaker's format (crm_simulate, crm_mon and cibadmin read it), and a
 * journal `<file>.journal` of the status updates since the file was last
 * written: one line per update, `<md5 of the record> <record>`, appended
 * and fsynced. The journal names the md5 of the file it follows; a journal
 * left behind by a crash during a full write names the file it replaced
 * and is ignored (everything in it is in the new file). A torn last line
 * (a crash during an append, never acknowledged) is dropped; a damaged
 * line before it is an error naming the line.
 */
export class FileBackend implements CibBackend {
  private journalHandle: FileHandle | undefined;
  /** The md5 of the CIB file (what the journal follows). */
  private base: string | undefined;
  /** The journal must be started anew before the next append (missing, stale, or ending torn). */
  private journalStale = true;
  /** A failed append may have left part of a line: only a full save() may follow. */
  private journalBroken = false;

  constructor(readonly file: string) {}

  get description(): string {
    return this.file;
  }

  get journalFile(): string {
    return `${this.file}.journal`;
  }

  async load(): Promise<StoredCib | undefined> {
    // A writer in another process may replace the file between our reads of
    // it and of its .sig: read again before calling it damaged.
    for (let attempt = 1; ; attempt++) {
      const text = await readIfExists(this.file);
      if (text === undefined) return undefined;
      const sig = await readIfExists(`${this.file}.sig`);
      // While a write is in flight the .sig lists the new and the old digest; either is fine.
      const digests = (sig ?? '')
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean);
      const digest = md5(text);
      if (sig !== undefined && !digests.includes(digest)) {
        if (attempt < 5 && (await readIfExists(this.file)) !== text) continue;
        throw new CibDigestError(this.file, digests[0] ?? '', digest);
      }
      this.base = digest;
      return { xml: text, journal: await this.readJournal(digest) };
    }
  }

  private async readJournal(digest: string): Promise<string[]> {
    const text = await readIfExists(this.journalFile);
    this.journalStale = true;
    if (text === undefined || text === '') return [];
    const lines = text.split('\n');
    // The header is written whole (atomic replace): no header, no journal of ours.
    const header = lines[0]!.split(' ');
    if (`${header[0]} ${header[1]}` !== JOURNAL_MAGIC || header.length !== 3)
      throw new CibJournalError(
        this.journalFile,
        1,
        `not a remora CIB journal (expected '${JOURNAL_MAGIC} <md5>')`,
      );
    // Written for another CIB file: a full write replaced it before the journal was reset.
    if (header[2] !== digest) return [];
    const records: string[] = [];
    const complete = text.endsWith('\n');
    const last = complete ? lines.length - 2 : lines.length - 1;
    for (let i = 1; i <= last; i++) {
      const line = lines[i]!;
      const space = line.indexOf(' ');
      const record = line.slice(space + 1);
      if (space === 32 && md5(record) === line.slice(0, 32) && (i < last || complete)) {
        records.push(record);
        continue;
      }
      // A crash during the last append leaves a torn last line: it was never acknowledged.
      if (i === last) return records;
      throw new CibJournalError(this.journalFile, i + 1, 'damaged record (its md5 does not match)');
    }
    this.journalStale = false;
    return records;
  }

  async save(xml: string, previous: string): Promise<void> {
    // First announce both digests, then replace the CIB, then keep only the
    // new digest: whatever step a crash interrupts, the file on disk matches
    // one of the listed digests. Then a new journal for the new file.
    const next = md5(xml);
    await this.closeJournal();
    await writeFileAtomic(`${this.file}.sig`, `${next}\n${md5(previous)}\n`);
    await writeFileAtomic(this.file, xml);
    await writeFileAtomic(`${this.file}.sig`, `${next}\n`);
    await this.resetJournal(next);
  }

  private async resetJournal(digest: string): Promise<void> {
    await this.closeJournal();
    await writeFileAtomic(this.journalFile, `${JOURNAL_MAGIC} ${digest}\n`);
    this.base = digest;
    this.journalStale = false;
    this.journalBroken = false;
  }

  async append(record: string): Promise<void> {
    if (record.includes('\n'))
      throw new CibError(`${this.journalFile}: a journal record must be one line`);
    if (this.journalBroken)
      throw new CibError(
        `${this.journalFile}: an earlier append failed; the CIB must be saved whole before appending again`,
      );
    if (this.journalStale) {
      if (this.base === undefined)
        throw new CibError(`${this.journalFile}: load() or save() the CIB before appending`);
      await this.resetJournal(this.base);
    }
    this.journalHandle ??= await openFile(this.journalFile, 'a');
    try {
      await this.journalHandle.writeFile(`${md5(record)} ${record}\n`); // (all of it: write() may stop short)
      await this.journalHandle.datasync();
    } catch (err) {
      // Part of the line may be written: never append after it.
      this.journalBroken = true;
      await this.closeJournal().catch(() => undefined);
      throw err;
    }
  }

  private async closeJournal(): Promise<void> {
    const h = this.journalHandle;
    this.journalHandle = undefined;
    await h?.close();
  }

  async close(): Promise<void> {
    await this.closeJournal();
  }
}

/** Keeps the CIB in memory only (tests, simulations, embedded demos). */
export class MemoryBackend implements CibBackend {
  readonly description = 'memory';
  private journal: string[] = [];
  constructor(private xml?: string) {}
  load(): Promise<StoredCib | undefined> {
    return Promise.resolve(
      this.xml === undefined ? undefined : { xml: this.xml, journal: [...this.journal] },
    );
  }
  save(xml: string): Promise<void> {
    this.xml = xml;
    this.journal = [];
    return Promise.resolve();
  }
  append(record: string): Promise<void> {
    this.journal.push(record);
    return Promise.resolve();
  }
}

/** A previous version kept by the store. */
export interface CibHistoryEntry {
  readonly version: CibVersion;
  /** Its text (serialized on first use). */
  readonly xml: string;
  readonly reason: string;
}

/** One committed version, consistent and unchanging, for readers. */
export interface CibSnapshot {
  readonly version: CibVersion;
  readonly cib: Cib;
  /** Its text (serialized on first use, then remembered). */
  readonly xml: string;
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
  /**
   * With a journaling backend, write the whole CIB again once the journal
   * holds this many bytes (default: the size of the CIB, at least 64 KiB):
   * each update costs its own size, and full writes, amortized, about as
   * much again.
   */
  readonly compactAfterBytes?: number;
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

/** A committed version: the document is never changed (later versions share its unchanged parts). */
class Version implements CibSnapshot {
  private text: string | undefined;
  constructor(
    readonly doc: XmlDocument,
    readonly cib: Cib,
    private readonly texts: WeakMap<XmlNode, string>,
    text?: string,
  ) {
    this.text = text;
  }
  get version(): CibVersion {
    return this.cib.version;
  }
  get xml(): string {
    return (this.text ??= serializeXmlCached(this.doc, this.texts));
  }
}

interface JournalRecord {
  readonly from: string;
  readonly to: string;
  readonly patch: DocumentPatch;
}

/**
 * The embedded CIB store: one CIB document kept by a backend (a file with
 * atomic replace and an md5 `.sig` beside it, as Pacemaker does, plus a
 * journal of status updates, by default), versioned with
 * admin_epoch/epoch/num_updates, modified through functions applied to a
 * copy-on-write draft (a modification that makes the CIB unreadable is
 * rejected and nothing changes), with a change feed and a bounded history.
 *
 * Versions share unchanged subtrees: a status update (one operation result)
 * costs what it changes, not the size of the CIB — it is copied, re-read,
 * and journaled as a patch; the whole CIB is serialized only when asked
 * for (`xml`, remembered per element) and written whole on configuration
 * changes and when the journal has grown as large as the CIB.
 *
 * ```ts
 * await using store = await CibStore.open('/var/lib/remora/cib.xml');
 * await store.modify((doc) => setClusterProperty(doc, 'stonith-enabled', 'false'));
 * for await (const change of store.changes()) console.log(change.version, change.diff());
 * ```
 */
export class CibStore implements AsyncDisposable {
  private current: Version;
  private readonly past: { version: Version; reason: string }[] = [];
  private readonly events = new EventEmitter();
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly reads: ReadCache = newReadCache();
  private readonly texts = new WeakMap<XmlNode, string>();
  /** What the backend last saved whole (the `.sig` dance needs it), and the journal's size since. */
  private saved: string;
  private journalBytes = 0;
  /** An append failed: the next write is a full save. */
  private mustSave = false;

  private constructor(
    readonly backend: CibBackend,
    doc: XmlDocument,
    text: string,
    private readonly options: CibStoreOptions,
  ) {
    this.current = new Version(doc, readCibCached(doc, this.reads), this.texts, text);
    this.saved = text;
    this.events.setMaxListeners(0);
  }

  /**
   * Open a store on a file path (created with `initial` when missing), on a
   * backend, or in memory (`undefined`). A file changed outside the store
   * is refused with CibDigestError; an unreadable CIB with its parse error;
   * a damaged journal with CibJournalError. A journal left by the last run
   * is replayed, then the CIB is written whole.
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
    const loaded = await backend.load();
    const stored = typeof loaded === 'string' ? { xml: loaded, journal: [] } : loaded;
    if (stored !== undefined) {
      const store = new CibStore(
        backend,
        parseXml(stored.xml, { source: backend.description }),
        stored.xml,
        options,
      );
      if (stored.journal.length > 0) {
        store.replay(stored.journal);
        await store.compact();
      }
      return store;
    }
    const text = options.initial ?? EMPTY_CIB;
    const doc = parseXml(text, { source: 'initial CIB' });
    readCib(doc);
    await backend.save(text, '');
    return new CibStore(backend, doc, text, options);
  }

  /**
   * Read the CIB (and its journal) without opening a store: a consistent
   * snapshot for readers in other processes (status, CLI) while a store
   * writes; never writes anything.
   */
  static async read(where: string | CibBackend): Promise<CibSnapshot> {
    const backend = typeof where === 'string' ? new FileBackend(where) : where;
    const loaded = await backend.load();
    if (loaded === undefined) throw new CibError(`${backend.description}: no CIB stored there`);
    const stored = typeof loaded === 'string' ? { xml: loaded, journal: [] } : loaded;
    const store = new CibStore(
      backend,
      parseXml(stored.xml, { source: backend.description }),
      stored.xml,
      {},
    );
    store.replay(stored.journal);
    return store.snapshot();
  }

  private replay(journal: readonly string[]): void {
    const where = (i: number): string =>
      this.backend instanceof FileBackend
        ? `${this.backend.journalFile} record ${i + 1}`
        : `${this.backend.description} journal record ${i + 1}`;
    journal.forEach((line, i) => {
      let record: JournalRecord;
      try {
        record = JSON.parse(line) as JournalRecord;
      } catch (err) {
        throw new CibPatchError(`${where(i)}: not JSON (${(err as Error).message})`);
      }
      if (typeof record !== 'object' || record === null || Array.isArray(record))
        throw new CibPatchError(`${where(i)}: not a journal record ({ from, to, patch })`);
      const at = formatVersion(this.version);
      if (record.from !== at)
        throw new CibPatchError(
          `${where(i)}: follows version ${String(record.from)}, but the CIB is at ${at}: the journal does not belong to this CIB`,
        );
      const doc = applyPatch(this.current.doc, record.patch, where(i));
      const cib = readCibCached(doc, this.reads);
      if (formatVersion(cib.version) !== record.to)
        throw new CibPatchError(
          `${where(i)}: gives version ${formatVersion(cib.version)}, the record says ${String(record.to)}`,
        );
      this.current = new Version(doc, cib, this.texts);
    });
  }

  /** The typed model of the current CIB. */
  get cib(): Cib {
    return this.current.cib;
  }

  get version(): CibVersion {
    return this.current.version;
  }

  /** The current CIB as XML text (serialized when first asked for after a change). */
  get xml(): string {
    return this.current.xml;
  }

  /**
   * The current version, consistent and unchanging whatever modifications
   * follow (versions share their unchanged parts: taking one costs nothing).
   */
  snapshot(): CibSnapshot {
    return this.current;
  }

  /** A copy of the current document, safe to change. */
  document(): XmlDocument {
    return cloneDocument(this.current.doc);
  }

  /** Previous versions, oldest first (at most `historySize`). */
  history(): readonly CibHistoryEntry[] {
    return this.past.map(({ version, reason }) => ({
      version: version.version,
      reason,
      get xml(): string {
        return version.xml;
      },
    }));
  }

  /**
   * Apply a change. `edit` mutates a copy-on-write draft (keep no
   * references to it after `edit` returns); the result must still read as
   * a CIB, else the store is unchanged and the error is thrown.
   * Modifications are serialized; each bumps the version once and is
   * stored durably before the promise resolves: a `status` one as a patch
   * in the journal, a `configuration` one by writing the whole CIB.
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
      const before = this.current;
      const previous = before.version;
      const scope = options.scope ?? 'configuration';
      const produced = produce(before.doc, (draft) => {
        const result = edit(draft);
        if (scope === 'configuration') {
          draft.root.attributes.set('epoch', String(previous.epoch + 1));
          draft.root.attributes.set('num_updates', '0');
        } else {
          draft.root.attributes.set('num_updates', String(previous.numUpdates + 1));
        }
        return result;
      });
      const after = new Version(produced.doc, readCibCached(produced.doc, this.reads), this.texts);
      await this.persist(before, after, scope, produced.origin);
      const reason = options.reason ?? '';
      this.past.push({ version: before, reason });
      if (this.past.length > (this.options.historySize ?? 10)) this.past.shift();
      this.current = after;
      let diff: CibDiffEntry[] | undefined;
      const change: CibChange = {
        version: after.version,
        previous,
        scope,
        reason,
        diff: () => (diff ??= diffCib(before.doc, after.doc)),
      };
      this.events.emit('change', change);
      return produced.result;
    };
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async persist(
    before: Version,
    after: Version,
    scope: 'configuration' | 'status',
    origin: WeakMap<object, object>,
  ): Promise<void> {
    if (scope === 'status' && this.backend.append && !this.mustSave) {
      const record: JournalRecord = {
        from: formatVersion(before.version),
        to: formatVersion(after.version),
        patch: makePatch(before.doc, after.doc, origin),
      };
      const line = JSON.stringify(record);
      if (!('full' in record.patch)) {
        try {
          await this.backend.append(line);
        } catch (err) {
          this.mustSave = true;
          throw err;
        }
        this.journalBytes += line.length + 34;
        const limit = this.options.compactAfterBytes ?? Math.max(65536, this.saved.length);
        if (this.journalBytes < limit) return;
      }
    }
    await this.backend.save(after.xml, this.saved);
    this.saved = after.xml;
    this.journalBytes = 0;
    this.mustSave = false;
  }

  /** Write the whole CIB now (the journal starts anew): e.g. before other tools read the file. */
  compact(): Promise<void> {
    const run = async (): Promise<void> => {
      if (this.journalBytes === 0 && this.saved === this.current.xml) return;
      await this.backend.save(this.current.xml, this.saved);
      this.saved = this.current.xml;
      this.journalBytes = 0;
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

  /** Wait for pending modifications, write the whole CIB if the journal holds updates, end change feeds. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.queue;
    this.closed = true;
    try {
      if (this.journalBytes > 0) {
        await this.backend.save(this.current.xml, this.saved);
        this.saved = this.current.xml;
        this.journalBytes = 0;
      }
      await this.backend.close?.();
    } finally {
      this.events.emit('close');
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
