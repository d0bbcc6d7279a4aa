export { Store, type StoredEntry, type Mutation } from './store.js';
