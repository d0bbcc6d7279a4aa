// Heap tuning for the node proxy, applied before any other module loads (main.ts imports this
// first): the young generation must not have grown yet when the flag is set.
//
// The node proxy's heap is small (~10 MB) while bytes stream through it at GB/s. V8 grows the
// young generation to 16 MB semi-spaces under that churn, which costs resident memory (RSS at
// 1,000 req/s: 80 MB grown, 67 MB pinned) and, once the new space is as large as the old
// generation's headroom, keeps starting full mark-compacts (~70 in 6 s of bulk on a fresh proxy,
// 1 when pinned). Pinned at its initial size, the young generation is swept by cheap scavenges.
import { setFlagsFromString } from 'node:v8';

if (process.argv[2] === 'node-proxy') setFlagsFromString('--semi-space-growth-factor=1');
