// Following the revocations, for a proxy (the node proxy, the egress gateway): the list of each
// version it applies, and of each it rejects (RevocationView: a rejected version's list only adds),
// and, whenever what is enforced changes, a recheck of the open tunnels and one log line.
import type { Logger } from '../log.js';
import { RevocationView, RevokedSvids } from '../hbone/index.js';
import { resourcesByType, type ConfigStreamClient } from '../stream/index.js';

export class RevocationFollower {
  private readonly view = new RevocationView();

  /** `recheck` closes the open tunnels whose peer is revoked now and says how many. */
  constructor(stream: ConfigStreamClient, private readonly recheck: () => number, private readonly log: Logger) {
    stream.on('rejected', (version, decoded) => {
      if (this.view.reject(RevokedSvids.of(resourcesByType(decoded).revocations.at(-1)))) this.changed(version, true);
    });
  }

  get current(): RevokedSvids {
    return this.view.current;
  }

  /** The list of the version just applied. */
  applied(version: number, list: RevokedSvids): void {
    if (this.view.apply(list)) this.changed(version, false);
  }

  private changed(version: number, fromRejected: boolean): void {
    const closed = this.recheck();
    this.log.warn(
      { version, connectionsClosed: closed, revoked: this.view.current.describe(), ...(fromRejected ? { fromRejectedVersion: true } : {}) },
      `revocations changed${fromRejected ? ' (taken from a version rejected otherwise)' : ''}: tunnels whose peer proved a revoked SVID are closed, and new ones refused`,
    );
  }
}
