// Frees relayed Buffers while they are still young.
//
// A relay copies bytes through Buffers: each socket read is a fresh ~64 KB Buffer whose memory
// lives outside the JS heap ("external" memory). V8 frees a young Buffer only at a scavenge, and
// a relay allocates so little on the JS heap that scavenges are rare. External memory then climbs
// in V8's fixed 64 MB steps, and every step starts a full mark-compact of the whole heap: at
// ~3 Gbit/s through one node proxy that was a mark-compact every ~60 ms and about a fifth of the
// sending proxy's CPU (docs/hbone.md, "Relays and the Node runtime"). V8 has no flag for
// that step, so relays report the bytes they copy here, and every `everyBytes` of them one minor
// GC (a scavenge, ~40-400 us) frees the Buffers already written while they are young.
import v8 from 'node:v8';
import vm from 'node:vm';
import { AmbitError, showValue } from '../errors.js';

type MinorGc = () => void;

/** Relayed bytes between two minor GCs: a quarter of V8's 64 MB external-memory step. */
export const DEFAULT_RELAY_GC_BYTES = 16 * 1024 * 1024;

let gcFn: MinorGc | null | undefined;

/** V8's gc() with the minor type, obtained once; null where the runtime does not offer it. */
function minorGc(): MinorGc | null {
  if (gcFn !== undefined) return gcFn;
  try {
    // --expose-gc installs gc() in contexts created while it is set: one fresh context hands it
    // over, then the flag goes off again, so no other context or Worker of the process gets a gc.
    v8.setFlagsFromString('--expose-gc');
    try {
      const gc = vm.runInNewContext('gc') as ((o: { type: 'minor' }) => void) | undefined;
      gcFn = typeof gc === 'function' ? () => gc({ type: 'minor' }) : null;
    } finally {
      v8.setFlagsFromString('--no-expose-gc');
    }
  } catch {
    gcFn = null;
  }
  return gcFn;
}

export class RelayGc {
  private pending = 0;
  private runs = 0;

  /** everyBytes 0 turns the collector off (bytes are still counted). */
  constructor(private readonly everyBytes: number = DEFAULT_RELAY_GC_BYTES) {
    if (!Number.isInteger(everyBytes) || everyBytes < 0) {
      throw new AmbitError('INVALID_RELAY_GC_BYTES', `Cannot collect relayed memory: everyBytes must be a whole number of bytes >= 0, got ${showValue(everyBytes)}`, { path: 'everyBytes', value: everyBytes });
    }
  }

  /** A relay copied `bytes` more: runs a minor GC once `everyBytes` have passed since the last. */
  note(bytes: number): void {
    this.pending += bytes;
    if (this.everyBytes === 0 || this.pending < this.everyBytes) return;
    this.pending = 0;
    const gc = minorGc();
    if (!gc) return;
    gc();
    this.runs++;
  }

  /** Minor GCs this collector has run. */
  get collections(): number {
    return this.runs;
  }
}

/** The process's one collector, shared by every relay in it (the node proxy's, the gateway's). */
export const relayGc = new RelayGc();
