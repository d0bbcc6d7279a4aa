// The lab needs Linux and root (CAP_NET_ADMIN) for namespaces, links and nftables. Say so in
// one line instead of failing halfway through with a kernel error.
import { AmbitError } from '../errors.js';

export function assertLabHost(platform: string = process.platform, uid: number | undefined = process.getuid?.()): void {
  if (platform !== 'linux') {
    throw new AmbitError('LAB_NEEDS_LINUX', `ambit lab: needs Linux (network namespaces, veth, nftables); this is ${platform}`, { value: platform });
  }
  if (uid !== 0) {
    throw new AmbitError('LAB_NEEDS_ROOT', 'ambit lab: needs root (CAP_NET_ADMIN) to create network namespaces; run with sudo', { value: uid });
  }
}
