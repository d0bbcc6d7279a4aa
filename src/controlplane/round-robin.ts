// Work from many owners, done in turns: one item per owner per round, and rounds in slices of the
// event loop. The config stream's CSRs go through one (stream-server.ts): signing is synchronous
// (~0.3 ms each), and a node that floods CSRs used to have them all signed inside its socket's
// data handler, ahead of every other node's (an audit measured another node's CSR going from
// 1 ms to 110-340 ms). Here each owner waits at most one round behind the others, and a slice
// ends after `sliceMs` so that sockets are read between slices. A lone owner still gets every
// slice: its throughput does not change.
//
// Pure scheduling, no I/O. `work` must not throw (the stream server catches its own errors).

/** One slice of work runs at most this long before the event loop gets a turn. */
export const SLICE_MS = 4;

export class RoundRobin<O, T> {
  private readonly queues = new Map<O, T[]>();
  /** Owners with items waiting that may run, in turn order. */
  private readonly ready: O[] = [];
  private readonly held = new Set<O>();
  private scheduled = false;

  constructor(
    private readonly work: (owner: O, item: T) => void,
    private readonly sliceMs = SLICE_MS,
  ) {}

  /** Queues `item` behind `owner`'s others; returns how many `owner` has waiting now. */
  push(owner: O, item: T): number {
    let q = this.queues.get(owner);
    if (!q) {
      q = [];
      this.queues.set(owner, q);
      if (!this.held.has(owner)) this.ready.push(owner);
    }
    q.push(item);
    this.schedule();
    return q.length;
  }

  /** Items `owner` has waiting. */
  waiting(owner: O): number {
    return this.queues.get(owner)?.length ?? 0;
  }

  /** Skips `owner` until release() (say, while its answers go unread); its items stay queued. */
  hold(owner: O): void {
    this.held.add(owner);
    this.unready(owner);
  }

  release(owner: O): void {
    if (!this.held.delete(owner)) return;
    if (this.queues.has(owner)) this.ready.push(owner);
    this.schedule();
  }

  /** Forgets `owner` and everything it had waiting (it went away). */
  drop(owner: O): void {
    this.queues.delete(owner);
    this.held.delete(owner);
    this.unready(owner);
  }

  private unready(owner: O): void {
    const i = this.ready.indexOf(owner);
    if (i >= 0) this.ready.splice(i, 1);
  }

  private schedule(): void {
    if (this.scheduled || this.ready.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.slice();
    });
  }

  private slice(): void {
    const end = performance.now() + this.sliceMs;
    while (this.ready.length > 0) {
      const owner = this.ready.shift()!;
      const q = this.queues.get(owner)!;
      const item = q.shift()!;
      // Back of the line before the work runs, which may hold or drop its owner.
      if (q.length === 0) this.queues.delete(owner);
      else this.ready.push(owner);
      this.work(owner, item);
      if (performance.now() >= end) break;
    }
    this.schedule();
  }
}
