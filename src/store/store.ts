// The embedded durable store: every resource in memory, every committed transaction appended to
// a write-ahead log (one JSON line, fsynced) and folded into a snapshot now and then, so that a
// control-plane restart finds exactly what was committed. Watchers see whole transactions.

import { replaceFileDurably } from './durable-file.js';
import { processRuns } from '../sys/proc.js';
import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { keyOf, type Kind, type Resource } from '../config/types.js';
import { AmbitError, showValue } from '../errors.js';
import type { Logger } from '../log.js';
import type { StoreChange, StoreEvent } from '../controlplane/admin-api.js';

export interface StoredEntry {
  resource: Resource;
  /** Revision of the transaction that created this key (a recreated key gets a new one). */
  createRevision: number;
  modRevision: number;
}

export type Mutation = { type: 'put'; resource: Resource } | { type: 'delete'; key: string };

interface LogLine {
  rev: number;
  ops: ({ p: Resource } | { d: string })[];
}

interface Snapshot {
  storeId: string;
  revision: number;
  entries: StoredEntry[];
}

/** Log bytes after which a commit folds the log into the snapshot (StoreOptions.compactEveryBytes). */
export const DEFAULT_COMPACT_EVERY_BYTES = 64 * 1024 * 1024;

export interface StoreOptions {
  log?: Logger;
  /** Compact once the log has grown past this many bytes; a whole number >= 1 (default 64 MiB). */
  compactEveryBytes?: number;
}

export class Store {
  readonly storeId: string;
  private rev: number;
  private readonly entries = new Map<string, StoredEntry>();
  /** `Kind/namespace/` -> entries: keeps per-namespace listing cheap at 100,000 pods. */
  private readonly index = new Map<string, Map<string, StoredEntry>>();
  private readonly watchers = new Set<(e: StoreEvent) => void>();
  private logFd: number | undefined;
  private logBytes = 0;
  /** Why the log cannot take writes (a failed write that could not be taken back), if so. */
  private broken: string | undefined;

  private constructor(
    private readonly dir: string | undefined,
    snapshot: Snapshot,
    private readonly log?: Logger,
    private readonly compactEveryBytes: number = DEFAULT_COMPACT_EVERY_BYTES,
  ) {
    this.storeId = snapshot.storeId;
    this.rev = snapshot.revision;
    for (const e of snapshot.entries) this.setEntry(keyOf(e.resource), e);
  }

  /** An in-memory store (tests, benchmarks): nothing is written to disk. */
  static memory(): Store {
    return new Store(undefined, { storeId: randomUUID(), revision: 0, entries: [] });
  }

  /** Opens (or creates) the durable store in `dir`, replaying the log after the snapshot. */
  static open(dir: string, opts: StoreOptions = {}): Store {
    const every = opts.compactEveryBytes ?? DEFAULT_COMPACT_EVERY_BYTES;
    if (!Number.isSafeInteger(every) || every < 1) {
      throw new AmbitError('INVALID_STORE_OPTION', `Cannot open the store: compactEveryBytes must be a whole number of bytes >= 1, got ${showValue(every)}`, { path: 'compactEveryBytes', value: every });
    }
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    takeLock(join(dir, LOCK_FILE));
    try {
      const snapPath = join(dir, 'snapshot.json');
      const snapshot: Snapshot = existsSync(snapPath) ? readSnapshot(snapPath) : { storeId: randomUUID(), revision: 0, entries: [] };
      const store = new Store(dir, snapshot, opts.log, every);
      store.replay(join(dir, 'wal.jsonl'));
      store.compact();
      return store;
    } catch (err) {
      releaseLock(join(dir, LOCK_FILE));
      throw err;
    }
  }

  get revision(): number {
    return this.rev;
  }

  get(key: string): StoredEntry | undefined {
    return this.entries.get(key);
  }

  /** Every entry, optionally of one kind and namespace, in key order. */
  list(kind?: Kind, namespace?: string): StoredEntry[] {
    const out = [...this.iterate(kind, namespace)];
    return out.sort((a, b) => (keyOf(a.resource) < keyOf(b.resource) ? -1 : 1));
  }

  /** Like list(), unsorted and without copying: for hot paths. */
  *iterate(kind?: Kind, namespace?: string): Iterable<StoredEntry> {
    if (kind !== undefined && namespace !== undefined) {
      const m = this.index.get(`${kind}/${namespace}/`);
      if (m) yield* m.values();
      return;
    }
    const prefix = kind === undefined ? '' : `${kind}/`;
    for (const [p, m] of this.index) if (p.startsWith(prefix)) yield* m.values();
  }

  count(kind?: Kind): number {
    let n = 0;
    const prefix = kind === undefined ? '' : `${kind}/`;
    for (const [p, m] of this.index) if (p.startsWith(prefix)) n += m.size;
    return n;
  }

  private setEntry(key: string, e: StoredEntry): void {
    this.entries.set(key, e);
    const p = key.slice(0, key.lastIndexOf('/') + 1);
    let m = this.index.get(p);
    if (!m) this.index.set(p, (m = new Map()));
    m.set(key, e);
  }

  private deleteEntry(key: string): void {
    this.entries.delete(key);
    const p = key.slice(0, key.lastIndexOf('/') + 1);
    const m = this.index.get(p);
    m?.delete(key);
    if (m && m.size === 0) this.index.delete(p);
  }

  /**
   * Commits the mutations as one transaction (durably, before returning) and tells watchers.
   * Deleting an absent key is a no-op; a transaction that changes nothing keeps the revision.
   */
  commit(mutations: Mutation[]): StoreEvent {
    const changes: StoreChange[] = [];
    const ops: LogLine['ops'] = [];
    const rev = this.rev + 1;
    const staged = new Map<string, StoredEntry | null>();
    for (const m of mutations) {
      if (m.type === 'put') {
        const key = keyOf(m.resource);
        const prev = staged.has(key) ? staged.get(key) : this.entries.get(key);
        staged.set(key, { resource: m.resource, createRevision: prev ? prev.createRevision : rev, modRevision: rev });
        changes.push({ type: 'put', key, resource: m.resource });
        ops.push({ p: m.resource });
      } else {
        const prev = staged.has(m.key) ? staged.get(m.key) : this.entries.get(m.key);
        if (!prev) continue;
        staged.set(m.key, null);
        changes.push({ type: 'delete', key: m.key, resource: prev.resource });
        ops.push({ d: m.key });
      }
    }
    if (changes.length === 0) return { revision: this.rev, changes };
    this.appendLog({ rev, ops });
    this.rev = rev;
    for (const [k, v] of staged) {
      if (v) this.setEntry(k, v);
      else this.deleteEntry(k);
    }
    // Only now, with the transaction in memory too: a snapshot taken before would lack it and the
    // compaction would then empty the log that held it. A compaction that fails (a full disk) is
    // tried again at the next commit; the commit stands, durable in the log.
    if (this.logBytes > this.compactEveryBytes) {
      try {
        this.compact();
      } catch (err) {
        this.log?.warn({ err: (err as Error).message, dir: this.dir }, 'store compaction failed; the log keeps every transaction, will try again at the next commit');
      }
    }
    const event: StoreEvent = { revision: rev, changes };
    for (const w of this.watchers) w(event);
    return event;
  }

  /** Calls `fn` with every transaction committed from now on. Returns the unsubscribe function. */
  watch(fn: (e: StoreEvent) => void): () => void {
    this.watchers.add(fn);
    return () => this.watchers.delete(fn);
  }

  close(): void {
    if (this.logFd !== undefined) closeSync(this.logFd);
    this.logFd = undefined;
    this.watchers.clear();
    if (this.dir !== undefined) releaseLock(join(this.dir, LOCK_FILE));
  }

  /**
   * Appends one transaction to the log, durably. A write that fails (a full disk: some bytes may
   * have gone in before ENOSPC) is taken back by truncating the log to where it was, so a torn
   * line never sits before a later good one (which would make the log unreadable); the caller
   * then changes nothing in memory. If even the truncation fails, the store takes no more commits
   * until it is reopened: replay skips a torn last line.
   */
  private appendLog(line: LogLine): void {
    if (this.dir === undefined) return;
    const walPath = join(this.dir, 'wal.jsonl');
    if (this.broken) throw new AmbitError('STORE_WRITE_FAILED', `Cannot commit to the store: an earlier write to ${walPath} failed and could not be taken back (${this.broken}); restart the control plane to reopen the store`);
    if (this.logFd === undefined) this.logFd = openSync(walPath, 'a', 0o600);
    const buf = Buffer.from(JSON.stringify(line) + '\n');
    const fd = this.logFd;
    const start = fstatSync(fd).size;
    try {
      for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
      fsyncSync(fd);
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      try {
        ftruncateSync(fd, start);
        fsyncSync(fd);
      } catch (undo) {
        this.broken = `${why}, then ${(undo as NodeJS.ErrnoException).code ?? (undo as Error).message} truncating it`;
        // The line may be in the file whole (only its fsync failed): then a restart replays it.
        throw new AmbitError('STORE_WRITE_FAILED', `Cannot commit to the store: writing ${walPath} failed (${this.broken}); the running control plane did not apply the change, but it may be applied at the next restart if its log line went in whole; the store takes no more commits until then`, { cause: err });
      }
      throw new AmbitError('STORE_WRITE_FAILED', `Cannot commit to the store: writing ${walPath} failed (${why}); nothing was changed`, { cause: err });
    }
    this.logBytes += buf.length;
  }

  private replay(walPath: string): void {
    if (!existsSync(walPath)) return;
    const lines = readFileSync(walPath, 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const text = lines[i]!;
      if (text === '') continue;
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch (err) {
        // Only the last line may be torn (a crash mid-write); anything else is corruption.
        if (i >= lines.length - 2) {
          this.log?.warn({ walPath, line: i + 1 }, 'ignoring a torn last line in the store log (crash during a write)');
          break;
        }
        throw new AmbitError('STORE_CORRUPT', `Cannot open the store: ${walPath} line ${i + 1} is not valid JSON`, { cause: err });
      }
      const bad = logLineProblem(line);
      if (bad !== null) throw new AmbitError('STORE_CORRUPT', `Cannot open the store: ${walPath} line ${i + 1} ${bad}`, { path: `line ${i + 1}` });
      if (line.rev <= this.rev) continue;
      for (const op of line.ops) {
        if ('p' in op) {
          const key = keyOf(op.p);
          const prev = this.entries.get(key);
          this.setEntry(key, { resource: op.p, createRevision: prev ? prev.createRevision : line.rev, modRevision: line.rev });
        } else this.deleteEntry(op.d);
      }
      this.rev = line.rev;
    }
  }

  /** Folds the log into a new snapshot (written atomically) and starts an empty log. */
  private compact(): void {
    if (this.dir === undefined) return;
    if (this.logFd !== undefined) closeSync(this.logFd);
    this.logFd = undefined;
    const snap: Snapshot = { storeId: this.storeId, revision: this.rev, entries: [...this.entries.values()] };
    replaceFileDurably(join(this.dir, 'snapshot.json'), JSON.stringify(snap));
    writeFileSync(join(this.dir, 'wal.jsonl'), '', { mode: 0o600 });
    this.logBytes = 0;
  }
}

/** Held while a process has the store open: two control planes on one data dir lose each other's commits. */
const LOCK_FILE = 'LOCK';

/** Takes `path` for this process: refused while a live other process holds it; a dead holder's is taken over. */
function takeLock(path: string): void {
  try {
    const fd = openSync(path, 'wx', 0o600);
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const holder = Number.parseInt(readFileSync(path, 'utf8'), 10);
  if (Number.isSafeInteger(holder) && holder > 0 && holder !== process.pid && processRuns(holder)) {
    throw new AmbitError('STORE_LOCKED', `Cannot open the store in ${path.slice(0, -LOCK_FILE.length - 1)}: process ${holder} has it open (another control plane on this data dir?). Stop it first; if process ${holder} is not a control plane, remove ${path}`, { path: 'dataDir', value: path });
  }
  writeFileSync(path, `${process.pid}\n`, { mode: 0o600 }); // its holder is gone (a crash): ours now
}

function releaseLock(path: string): void {
  try {
    if (Number.parseInt(readFileSync(path, 'utf8'), 10) === process.pid) unlinkSync(path);
  } catch {
    /* gone already */
  }
}

function readSnapshot(path: string): Snapshot {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch (err) {
    throw new AmbitError('STORE_CORRUPT', `Cannot open the store: ${path} is not valid JSON (${(err as Error).message})`, { path, cause: err });
  }
  const bad = (why: string): never => {
    throw new AmbitError('STORE_CORRUPT', `Cannot open the store: ${path} ${why}`, { path });
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad('is not a JSON object');
  const snap = raw as Partial<Snapshot>;
  if (typeof snap.storeId !== 'string' || snap.storeId === '') bad('has no storeId');
  if (!Number.isSafeInteger(snap.revision) || snap.revision! < 0) bad(`has revision ${showValue(snap.revision)}, not a whole number`);
  if (!Array.isArray(snap.entries)) bad('has no entries list');
  snap.entries!.forEach((e, i) => {
    const entry = e as Partial<StoredEntry> | null;
    if (typeof entry !== 'object' || entry === null || typeof entry.resource !== 'object' || entry.resource === null) bad(`entries[${i}] has no resource`);
    if (!Number.isSafeInteger(entry!.createRevision) || !Number.isSafeInteger(entry!.modRevision)) bad(`entries[${i}] has no whole-number createRevision and modRevision`);
  });
  return snap as Snapshot;
}

/** What is wrong with a parsed log line's shape, or null. */
function logLineProblem(line: unknown): string | null {
  if (typeof line !== 'object' || line === null || Array.isArray(line)) return 'is not a JSON object';
  const l = line as Partial<LogLine>;
  if (!Number.isSafeInteger(l.rev) || l.rev! < 1) return `has rev ${showValue(l.rev)}, not a whole number from 1`;
  if (!Array.isArray(l.ops)) return 'has no ops list';
  for (const [j, op] of (l.ops as unknown[]).entries()) {
    const o = op as { p?: unknown; d?: unknown } | null;
    const ok = typeof o === 'object' && o !== null && ((typeof o.p === 'object' && o.p !== null && o.d === undefined) || (typeof o.d === 'string' && o.p === undefined));
    if (!ok) return `ops[${j}] is neither {p: resource} nor {d: key}`;
  }
  return null;
}
