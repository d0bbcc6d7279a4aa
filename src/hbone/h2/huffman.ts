// HPACK Huffman decoding (RFC 7541 section 5.2). Only decoding: our encoder sends literal strings,
// which every peer must accept. A string's padding must be at most 7 bits, all ones (a prefix of
// EOS); a decoded EOS is an error.
import { HUFFMAN_BITS, HUFFMAN_CODES } from './huffman-table.js';

const EOS = 256;

// A binary trie in two flat arrays: node n's children are at 2n (bit 0) and 2n+1 (bit 1). A child
// value >= 0 is the next node, < 0 is the leaf -(symbol + 1); 0 means no code goes there (node 0
// is the root, never a child).
const children: Int32Array = buildTrie();

function buildTrie(): Int32Array {
  const next: number[] = [0, 0];
  let nodes = 1;
  for (let sym = 0; sym <= EOS; sym++) {
    const bits = HUFFMAN_BITS[sym]!;
    const code = HUFFMAN_CODES[sym]!;
    let node = 0;
    for (let i = bits - 1; i >= 0; i--) {
      const slot = 2 * node + ((code >>> i) & 1);
      if (i === 0) {
        next[slot] = -(sym + 1);
      } else {
        if (next[slot] === 0) {
          next[slot] = nodes++;
          next.push(0, 0);
        }
        node = next[slot]!;
      }
    }
  }
  return Int32Array.from(next);
}

export class HuffmanError extends Error {}

/** Decodes a Huffman-coded string into bytes (HPACK strings are octets; callers read them as latin1). */
export function huffmanDecode(input: Buffer): Buffer {
  // Every code is at least 5 bits, so the output is at most 8/5 of the input.
  const out = Buffer.allocUnsafe(Math.ceil((input.length * 8) / 5));
  let n = 0;
  let node = 0;
  let depth = 0; // bits consumed since the last symbol
  let allOnes = true; // those bits were all 1
  for (let i = 0; i < input.length; i++) {
    const byte = input[i]!;
    for (let b = 7; b >= 0; b--) {
      const bit = (byte >>> b) & 1;
      const child = children[2 * node + bit]!;
      if (child === 0) throw new HuffmanError('invalid Huffman code');
      if (child < 0) {
        const sym = -child - 1;
        if (sym === EOS) throw new HuffmanError('Huffman string contains EOS');
        out[n++] = sym;
        node = 0;
        depth = 0;
        allOnes = true;
      } else {
        node = child;
        depth++;
        if (bit === 0) allOnes = false;
      }
    }
  }
  if (depth > 7) throw new HuffmanError('Huffman padding longer than 7 bits');
  if (!allOnes) throw new HuffmanError('Huffman padding is not a prefix of EOS');
  return out.subarray(0, n);
}
