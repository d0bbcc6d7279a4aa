import { test } from 'node:test';
import { Harness, POD_AUTHORITY } from './harness.js';
import { RawH2, FRAME } from './raw-h2.js';
test('exp streams', async () => {
  const h = await Harness.start({ maxConcurrentStreams: 50 });
  try {
    const raw = await RawH2.connect(h.port, h.clientContext);
    const bufs = [];
    for (let i = 0; i < 80; i++) bufs.push(raw.connectFrame(1 + 2 * i, POD_AUTHORITY));
    raw.socket.write(Buffer.concat(bufs));
    await new Promise((r) => setTimeout(r, 500));
    const summary: Record<string, number> = {};
    for (const f of raw.frames) { const k = `${f.type}:${f.type === FRAME.RST_STREAM || f.type === FRAME.GOAWAY ? f.payload.readUInt32BE(f.type === FRAME.GOAWAY ? 4 : 0) : f.flags}`; summary[k] = (summary[k] ?? 0) + 1; }
    console.log(summary, 'tunnels', h.tunnels.length, 'refusals', h.refusals.length, raw.closed);
    console.log(await h.roundTrip('x'));
    raw.socket.destroy();
  } finally { await h.stop(); }
});
