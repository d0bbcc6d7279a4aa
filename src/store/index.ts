export { Store, DEFAULT_COMPACT_EVERY_BYTES, type StoredEntry, type Mutation, type StoreOptions } from './store.js';
export { replaceFileDurably } from './durable-file.js';
