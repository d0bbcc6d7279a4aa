// Every name a lab gives to kernel objects and files, in one place. Names carry the lab's
// prefix so that several labs coexist and so that `lab down` can find leftovers by prefix
// alone, even when the state file is gone.
import { createHash } from 'node:crypto';
import { AmbitError, showValue } from '../errors.js';

/** Lab names become part of namespace names; no '-' so that one lab's prefix is never another's. */
const LAB_NAME = /^[a-z0-9]{1,20}$/;
/** Node names: a DNS label, short enough for a namespace name. */
const NODE_NAME = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;

export function validateLabName(name: string, path = 'name'): string {
  if (!LAB_NAME.test(name)) {
    throw new AmbitError(
      'LAB_NAME_INVALID',
      `Cannot use lab name ${showValue(name)}: ${path} must be 1-20 characters of a-z and 0-9 (no '-', so one lab's prefix never matches another's)`,
      { path, value: name },
    );
  }
  return name;
}

export function isValidNodeName(name: string): boolean {
  return NODE_NAME.test(name);
}

/** The prefix of every network namespace of a lab. */
export function labPrefix(lab: string): string {
  return `ambit-${lab}-`;
}

export function underlayNetns(lab: string): string {
  return `${labPrefix(lab)}underlay`;
}

export function controlPlaneNetns(lab: string): string {
  return `${labPrefix(lab)}cp`;
}

export function internetNetns(lab: string): string {
  return `${labPrefix(lab)}inet`;
}

export function nodeNetns(lab: string, node: string): string {
  return `${labPrefix(lab)}n-${node}`;
}

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 10);
}

/** A pod's namespace: hashed, since Kubernetes names are long and a namespace path is not. */
export function podNetns(lab: string, namespace: string, name: string): string {
  return `${labPrefix(lab)}p-${shortHash(`${namespace}/${name}`)}`;
}

/** The node-side end of a pod's veth (15 characters max for an interface name). */
export function podVethName(namespace: string, name: string): string {
  return `vp${shortHash(`${namespace}/${name}`)}`;
}

/** The underlay-side end of a node's (or cp's, or internet's) veth. */
export function uplinkVethName(index: number): string {
  return `ul${index}`;
}

/** The pod key used in lab state and logs: `namespace/name`. */
export function podKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}
