// Validation of the options the socket functions take. Hosts are IP literals only: sys/ never
// resolves names, because a lookup would run in the caller's namespace, not the pod's.
import { isIP } from 'node:net';
import { AmbitError, showValue } from '../errors.js';

function invalid(action: string, field: string, want: string, value: unknown): AmbitError {
  return new AmbitError('INVALID_SOCKET_OPTION', `Cannot ${action}: ${field} must be ${want}, got ${showValue(value)}`, {
    path: field,
    value,
  });
}

export function checkNsPath(action: string, nsPath: unknown): string {
  if (typeof nsPath !== 'string' || !nsPath.startsWith('/')) throw invalid(action, 'nsPath', 'an absolute path', nsPath);
  return nsPath;
}

export function checkObject(action: string, opts: unknown): Record<string, unknown> {
  if (typeof opts !== 'object' || opts === null) throw invalid(action, 'opts', 'an object', opts);
  return opts as Record<string, unknown>;
}

/** Returns the family of an IP literal. */
export function checkHost(action: string, field: string, host: unknown): 4 | 6 {
  const family = typeof host === 'string' ? isIP(host) : 0;
  if (family !== 4 && family !== 6) throw invalid(action, field, 'an IPv4 or IPv6 address literal', host);
  return family;
}

export function checkInt(action: string, field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(action, field, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

export function checkBool(action: string, field: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalid(action, field, 'a boolean', value);
  return value;
}
