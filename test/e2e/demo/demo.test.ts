// `ambit demo` is one of the README's two commands: it must run start to finish and show each
// chapter's evidence (and leave nothing behind).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { teardownLab, findLabLeftovers } from '../../../src/lab/index.js';
import { cli } from '../lab/helpers.js';

const LAB = `demo${process.pid % 100000}`;
after(async () => {
  await teardownLab(LAB);
});

test('ambit demo runs every chapter and cleans up', async () => {
  const r = await cli(['demo', '--name', LAB], 180_000);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const out = r.stdout;
  assert.match(out, /→ refused: Cannot issue spiffe:\/\/cluster\.local\/ns\/default\/sa\/web to node "node-1"/);
  const cap = /underlay capture: (\d+) packets between pods, (\d+) of them to\/from port 15008/.exec(out);
  assert.ok(cap && Number(cap[2]) > 0, `the capture saw HBONE packets: ${cap?.[0]}`);
  assert.match(out, /the marker "secret-[0-9a-f]+" appears in the capture: no: it was encrypted/);
  assert.match(out, /client → web: allowed\n\s+other  → web: refused\n\s+node-2 logged: DENY cluster\.local\/ns\/default\/sa\/other: /);
  assert.match(out, /intruder → web: refused/);
  assert.match(out, /node-2 logged the true identity from the TLS handshake: cluster\.local\/ns\/default\/sa\/intruder/);
  // Chapter 5: egress allowed, originated, refused by registry and by policy, and every attack stopped.
  assert.match(out, /app-a → curl https:\/\/api\.example\.com\/  reached; the site saw SNI api\.example\.com from 10\.244\.\d+\.\d+ \(the gateway\)/);
  assert.match(out, /gateway: allowed ALLOWED source=cluster\.local\/ns\/default\/sa\/app-a sni=api\.example\.com upstream=203\.0\.113\.10:443/);
  assert.match(out, /the site was reached over TLS: yes/);
  assert.match(out, /other\.example\.net\/ \(no ServiceEntry\): failed \(curl exit 6\)/);
  assert.match(out, /app-a → https:\/\/service1\.bar\.example\/  failed \(curl exit \d+\)  \[gateway: refused EGRESS_POLICY_DENIED/);
  assert.doesNotMatch(out, /GOT OUT|GOT \d|\(unexpected\)|\(bad!\)/, 'no attack got out, nothing unexpected');
  assert.equal((out.match(/: stopped/g) ?? []).length, 8, 'each of the eight attacks is shown stopped');
  assert.match(out, /ambit_capture_dropped_packets\{pod="default\/attacker",direction="out"\} [1-9]/);
  const left = await findLabLeftovers(LAB);
  assert.deepEqual([left.namespaces, left.pids, left.runDir], [[], [], false]);
});
