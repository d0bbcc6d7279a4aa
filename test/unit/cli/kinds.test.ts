// kindFromArg: short names and plurals map to kinds; anything else, the object prototype's own
// names included, is KIND_UNKNOWN naming the argument.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kindFromArg } from '../../../src/cli/kinds.js';

test('kinds by name, plural and short name, in any case', () => {
  assert.deepEqual(['pods', 'SVC', 'ap', 'PeerAuthentication', 'se', 'dr', 'mesh'].map(kindFromArg), ['Pod', 'Service', 'AuthorizationPolicy', 'PeerAuthentication', 'ServiceEntry', 'DestinationRule', 'MeshConfig']);
});

test('a name the table does not hold is KIND_UNKNOWN, also one its prototype has ("constructor" was the Object function)', () => {
  for (const arg of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'secrets']) {
    assert.throws(() => kindFromArg(arg), { code: 'KIND_UNKNOWN', message: new RegExp(`^Cannot use kind "${arg}": ambit knows `) }, arg);
  }
});
