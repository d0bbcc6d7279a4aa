// A cheaper AsyncResource#bind for Node 20, the same as newer Node's.
//
// Node 20's bind() gives every bound function a deprecated `asyncResource` accessor (DEP0172),
// built from two fresh deprecate() wrappers on each call. http2's request() binds once per
// stream, so every HBONE tunnel paid for it: 5.6 us warm in a loop, far more under load with its
// garbage; measured on the sending node proxy, its CPU per new connection fell from ~290 to
// 271-279 us with this bind. Node has since removed the property (DEP0172 End-of-Life,
// nodejs/node#58618); this gives Node 20 that same bind: the function still runs in the
// resource's async scope and keeps the bound function's `length`, it only lacks the deprecated
// property. Installed by the relaying daemons only (tuneRelayingDaemon in heap.ts), and only
// where the runtime still adds the property.
import { AsyncResource } from 'node:async_hooks';

type AnyFn = (this: unknown, ...args: unknown[]) => unknown;

/** True where AsyncResource#bind still adds the deprecated `asyncResource` property. */
export function bindAddsAsyncResource(): boolean {
  return Object.prototype.hasOwnProperty.call(new AsyncResource('AmbitProbe').bind(() => undefined), 'asyncResource');
}

let installed = false;

/** Replaces AsyncResource#bind with the property-free one; returns whether it did (once, idempotent). */
export function installLeanAsyncBind(): boolean {
  if (installed) return true;
  if (!bindAddsAsyncResource()) return false;
  const original = AsyncResource.prototype.bind;
  function bind<Func extends AnyFn>(this: AsyncResource, fn: Func, thisArg?: unknown): Func {
    // Node's own argument check and error (ERR_INVALID_ARG_TYPE) for anything but a function.
    if (typeof fn !== 'function') return Reflect.apply(original, this, [fn, thisArg]) as Func;
    const resource = this;
    const bound = thisArg === undefined
      ? function bound(this: unknown, ...args: unknown[]): unknown {
        return resource.runInAsyncScope(fn, this, ...args);
      }
      : (...args: unknown[]): unknown => resource.runInAsyncScope(fn, thisArg, ...args);
    Object.defineProperty(bound, 'length', { configurable: true, enumerable: false, writable: false, value: fn.length });
    return bound as Func;
  }
  AsyncResource.prototype.bind = bind as typeof AsyncResource.prototype.bind;
  installed = true;
  return true;
}
