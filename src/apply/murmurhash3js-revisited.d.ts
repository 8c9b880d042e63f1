// The package ships no types. Only what lane-hash.ts uses is declared.
declare module 'murmurhash3js-revisited' {
  interface MurmurHash3 {
    readonly x86: {
      /** MurmurHash3 x86 32-bit over bytes; an unsigned 32-bit integer. */
      hash32(bytes: ArrayLike<number>, seed?: number): number;
    };
  }
  const murmurhash3: MurmurHash3;
  export default murmurhash3;
}
