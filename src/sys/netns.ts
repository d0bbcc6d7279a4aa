// Names of network namespaces as iproute2 keeps them: `ip netns add X` bind-mounts the namespace
// at /run/netns/X. The lab and the tests name namespaces; the socket calls take paths.
import { AmbitError, showValue } from '../errors.js';

export const NETNS_DIR = '/run/netns';

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/;

/** The path of the namespace `ip netns add <name>` creates. */
export function netnsPath(name: string): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new AmbitError(
      'INVALID_NETNS_NAME',
      `Cannot build a network namespace path: name must be 1-63 characters of [A-Za-z0-9_.-] not starting with "." or "-", got ${showValue(name)}`,
      { path: 'name', value: name },
    );
  }
  return `${NETNS_DIR}/${name}`;
}
