// The smallest mesh the control-plane process tests start from: namespace `shop` with one pod,
// `web` (service account web), scheduled on node-1.
import { parseDocuments } from '../../src/config/index.js';
import type { ControlPlaneProcess } from '../../src/testing/control-plane-process.js';

export const SHOP_WEB = `apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop}
spec: {nodeName: node-1, serviceAccountName: web, containers: [{name: main, command: [sleep, "1"]}]}
`;

export async function applyShopWeb(cp: ControlPlaneProcess): Promise<void> {
  await cp.admin.apply(parseDocuments(SHOP_WEB, 'test'));
}
